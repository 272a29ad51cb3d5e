/*
 * example_support.h: what the C examples share besides the workflow itself —
 * the CHECK macro, the command line, the progress output and the history table.
 * Everything here uses graft.h only.
 */
#ifndef GRAFT_EXAMPLE_SUPPORT_H
#define GRAFT_EXAMPLE_SUPPORT_H

#include <graft.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* On failure: say which call failed and why (graft_last_error()), then jump
 * to the clean-up at the end of the function, which frees whatever was
 * created. (stdout is flushed first, so the message comes after what was
 * printed before it.) */
#define CHECK(call)                                                             \
    do {                                                                        \
        if ((call) != GRAFT_OK) {                                               \
            fflush(stdout);                                                     \
            fprintf(stderr, "error: %s failed: %s\n", #call, graft_last_error()); \
            goto done;                                                          \
        }                                                                       \
    } while (0)

typedef struct arguments {
    const char *data_dir;
    const char *weights;    /* a path, "imagenet", or NULL for random weights */
    int image_size;
    int batch_size;
    int epochs;
    int fine_tune_epochs;
    const char *save_path;  /* NULL: do not save */
} arguments;

static int usage(const char *program) {
    fprintf(stderr,
            "usage: %s DATA_DIR WEIGHTS [--image-size N] [--batch-size N] [--epochs N]\n"
            "       [--fine-tune-epochs N] [--save MODEL.h5]\n"
            "WEIGHTS: a Keras ResNet50 notop .h5 file, \"imagenet\" or \"random\"\n",
            program);
    return 2;
}

/* A positive integer option value, or -1. */
static int positive(const char *text) {
    char *end;
    long value = strtol(text, &end, 10);
    return (*text != '\0' && *end == '\0' && value > 0 && value <= 1000000) ? (int)value : -1;
}

/* Reads the command line into *a, with the workflow's defaults for the
 * batch size and the epochs with the base frozen; 0 on a bad one. */
static int parse_arguments(int argc, char **argv, arguments *a, int batch_size, int epochs) {
    int positional = 0;
    a->image_size = 100;
    a->batch_size = batch_size;
    a->epochs = epochs;
    a->fine_tune_epochs = 5;
    a->save_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0) {
            if (positional == 0) a->data_dir = arg;
            else if (positional == 1) a->weights = strcmp(arg, "random") == 0 ? NULL : arg;
            else return 0;
            positional++;
            continue;
        }
        if (i + 1 == argc) return 0;
        const char *value = argv[++i];
        int *number = strcmp(arg, "--image-size") == 0         ? &a->image_size
                      : strcmp(arg, "--batch-size") == 0       ? &a->batch_size
                      : strcmp(arg, "--epochs") == 0           ? &a->epochs
                      : strcmp(arg, "--fine-tune-epochs") == 0 ? &a->fine_tune_epochs
                                                               : NULL;
        if (number != NULL) {
            if ((*number = positive(value)) < 0) return 0;
        } else if (strcmp(arg, "--save") == 0) {
            a->save_path = value;
        } else {
            return 0;
        }
    }
    return positional == 2;
}

/* DATA_DIR/name in `buffer`; 1 if that is a folder. */
static int sub_folder(const char *data_dir, const char *name, char *buffer, size_t size) {
    struct stat info;
    int n = snprintf(buffer, size, "%s/%s", data_dir, name);
    return n > 0 && (size_t)n < size && stat(buffer, &info) == 0 && S_ISDIR(info.st_mode);
}

/* fit and evaluate call this after every batch (and fit once more at the
 * end of each epoch, after the validation), with the `user` pointer given to
 * them: here a graft_progress_printer, whose text (Keras's progress bar, as
 * the graft command and Python print it) goes to stdout, redrawn in place on
 * a terminal. Returning non-zero would stop at this point (the model stays
 * usable). */
static int show_progress(const graft_progress *p, void *user) {
    const char *text = NULL;
    if (graft_progress_printer_report((graft_progress_printer *)user, p, isatty(STDOUT_FILENO), -1, &text) == GRAFT_OK)
        fputs(text, stdout);
    fflush(stdout);
    return 0;
}

/* Ends the printer's output (a line left open) and frees it. */
static void finish_progress(graft_progress_printer *printer) {
    const char *text = NULL;
    if (graft_progress_printer_end(printer, &text) == GRAFT_OK) fputs(text, stdout);
    graft_progress_printer_free(printer);
}

/* model.fit(train, epochs=..., validation_data=val), printing its progress. */
static graft_status fit_with_progress(graft_model *model, graft_dataset *train, graft_dataset *val, int epochs,
                                      graft_history **history) {
    graft_progress_printer *printer = NULL;
    graft_status status = graft_progress_printer_create(1, epochs, -1, &printer);
    if (status != GRAFT_OK) return status;
    status = graft_model_fit(model, train, val, epochs, show_progress, printer, history);
    finish_progress(printer);
    return status;
}

/* model.evaluate(data), printing its progress. */
static graft_status evaluate_with_progress(graft_model *model, graft_dataset *data, double *loss, double *accuracy) {
    graft_progress_printer *printer = NULL;
    graft_status status = graft_progress_printer_create(1, 0, -1, &printer);
    if (status != GRAFT_OK) return status;
    status = graft_model_evaluate(model, data, show_progress, printer, loss, accuracy);
    finish_progress(printer);
    return status;
}

/* Keras's history.history, one line per epoch, as the library writes it
 * (the same table the graft command and Python print). */
static void print_history(const graft_history *history) {
    int epochs = graft_history_epochs(history);
    if (epochs <= 0) return;
    graft_epoch_figures *figures = calloc((size_t)epochs, sizeof *figures);
    size_t needed = 0;
    char *text = NULL;
    if (figures == NULL) return;
    for (int e = 0; e < epochs; e++) {
        figures[e].loss = graft_history_value(history, "loss", e);
        figures[e].accuracy = graft_history_value(history, "accuracy", e);
        figures[e].val_loss = graft_history_value(history, "val_loss", e);
        figures[e].val_accuracy = graft_history_value(history, "val_accuracy", e);
    }
    if (graft_history_text(figures, epochs, GRAFT_HISTORY_TABLE, NULL, 0, &needed) == GRAFT_OK &&
        (text = malloc(needed)) != NULL &&
        graft_history_text(figures, epochs, GRAFT_HISTORY_TABLE, text, needed, NULL) == GRAFT_OK)
        fputs(text, stdout);
    free(text);
    free(figures);
}

#endif /* GRAFT_EXAMPLE_SUPPORT_H */
