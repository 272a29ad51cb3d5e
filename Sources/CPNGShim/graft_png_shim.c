#include "graft_png_shim.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct graft_png_decoder {
    png_structp png;
    png_infop info;
    const uint8_t *next;   /* unread input */
    size_t left;
    png_uint_32 width, height;
    int channels;
    int passes;
    char message[200];     /* set by on_error before it jumps */
};

static void on_error(png_structp png, png_const_charp text) {
    graft_png_decoder *d = (graft_png_decoder *)png_get_error_ptr(png);
    snprintf(d->message, sizeof d->message, "%s", text ? text : "libpng error");
    png_longjmp(png, 1);
}

/* Warnings (an ancillary chunk with a bad CRC, too much image data, ...) do
 * not stop TensorFlow's decoder either; they are not printed. */
static void on_warning(png_structp png, png_const_charp text) {
    (void)png;
    (void)text;
}

static void on_read(png_structp png, png_bytep out, size_t count) {
    graft_png_decoder *d = (graft_png_decoder *)png_get_io_ptr(png);
    if (count > d->left) png_error(png, "file ends early (truncated)");
    memcpy(out, d->next, count);
    d->next += count;
    d->left -= count;
}

static void copy_message(const char *text, char *message, size_t message_size) {
    if (message && message_size > 0) snprintf(message, message_size, "%s", text);
}

void graft_png_discard(graft_png_decoder *d) {
    if (!d) return;
    if (d->png) png_destroy_read_struct(&d->png, d->info ? &d->info : NULL, NULL);
    free(d);
}

graft_png_decoder *graft_png_begin(const uint8_t *data, size_t size, int channels,
                                   uint32_t *width, uint32_t *height,
                                   char *message, size_t message_size) {
    if (channels != 1 && channels != 3 && channels != 4) {
        copy_message("channels must be 1, 3 or 4", message, message_size);
        return NULL;
    }
    graft_png_decoder *d = (graft_png_decoder *)calloc(1, sizeof *d);
    if (!d) {
        copy_message("out of memory", message, message_size);
        return NULL;
    }
    d->next = data;
    d->left = size;
    d->channels = channels;
    d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, on_error, on_warning);
    if (!d->png) {
        copy_message("cannot create a libpng decoder", message, message_size);
        free(d);
        return NULL;
    }
    if (setjmp(png_jmpbuf(d->png))) {
        copy_message(d->message, message, message_size);
        graft_png_discard(d);
        return NULL;
    }
    d->info = png_create_info_struct(d->png);
    if (!d->info) png_error(d->png, "out of memory");
    png_set_read_fn(d->png, d, on_read);
    png_read_info(d->png, d->info);

    int bit_depth = 0, color_type = 0;
    png_get_IHDR(d->png, d->info, &d->width, &d->height, &bit_depth, &color_type, NULL, NULL, NULL);
    const int has_trns = png_get_valid(d->png, d->info, PNG_INFO_tRNS) != 0;
    const int has_alpha = (color_type & PNG_COLOR_MASK_ALPHA) != 0;
    const int is_gray = (color_type & PNG_COLOR_MASK_COLOR) == 0;

    /* The transformations TensorFlow asks for when `channels` of 8 bits are
     * wanted (libpng applies them in its own fixed order). The filler of an
     * image without alpha is TF's, 2^bit_depth - 1 of the file's depth. */
    if (channels == 4) {
        if (!has_alpha && has_trns) png_set_tRNS_to_alpha(d->png);
        if (!has_alpha && !has_trns) png_set_add_alpha(d->png, (1u << bit_depth) - 1, PNG_FILLER_AFTER);
    } else if (has_alpha || has_trns) {
        png_set_strip_alpha(d->png);
    }
    if (bit_depth > 8) png_set_strip_16(d->png);
    png_set_packing(d->png);
    d->passes = png_set_interlace_handling(d->png);
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(d->png);
    if (is_gray && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(d->png);
    if (channels == 1 && !is_gray) png_set_rgb_to_gray(d->png, 1, 0.299, 0.587);
    if (channels != 1 && is_gray) png_set_gray_to_rgb(d->png);
    png_read_update_info(d->png, d->info);

    if (png_get_channels(d->png, d->info) != channels || png_get_bit_depth(d->png, d->info) != 8 ||
        png_get_rowbytes(d->png, d->info) != (size_t)d->width * (size_t)channels)
        png_error(d->png, "unexpected pixel layout after conversion to 8 bits");
    *width = d->width;
    *height = d->height;
    return d;
}

int graft_png_finish(graft_png_decoder *d, uint8_t *pixels, char *message, size_t message_size) {
    if (setjmp(png_jmpbuf(d->png))) {
        copy_message(d->message, message, message_size);
        graft_png_discard(d);
        return -1;
    }
    const size_t row_bytes = (size_t)d->width * (size_t)d->channels;
    /* With interlacing, each of the 7 passes visits every row; libpng puts
     * the pass's pixels in place and leaves the others. */
    for (int pass = 0; pass < d->passes; ++pass) {
        uint8_t *row = pixels;
        for (png_uint_32 y = 0; y < d->height; ++y, row += row_bytes) png_read_row(d->png, row, NULL);
    }
    png_read_end(d->png, d->info);
    graft_png_discard(d);
    return 0;
}
