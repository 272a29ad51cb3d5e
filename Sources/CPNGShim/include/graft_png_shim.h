/* PNG decoding for Graft through libpng's classic API, set up as TensorFlow's
 * decode_png(channels=3, dtype=uint8) does: alpha and tRNS dropped (never
 * composited), 16-bit samples reduced to their high byte, palettes and gray
 * expanded to RGB, no gamma correction, interlacing undone, the chunks after
 * the image data read up to IEND.
 *
 * libpng reports errors by longjmp: the setjmp and every libpng call are in
 * this file, so no Swift frame is ever jumped over. Each call uses its own
 * png_struct: safe on any number of threads at once. */
#ifndef GRAFT_PNG_SHIM_H
#define GRAFT_PNG_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Internal to Graft: not exported from libgraft.so. */
#define GRAFT_PNG_INTERNAL __attribute__((visibility("hidden")))

typedef struct graft_png_decoder graft_png_decoder;

/* Reads the signature and the chunks up to the image data, and sets up the
 * conversion to `channels` (1 gray, 3 RGB or 4 RGBA) of 8 bits. Returns a
 * decoder to hand to graft_png_finish (or graft_png_discard), or NULL with
 * the reason in `message` (always NUL-terminated). `data` must stay valid
 * until the decoder is finished or discarded. */
GRAFT_PNG_INTERNAL graft_png_decoder *graft_png_begin(const uint8_t *data, size_t size, int channels,
                                                      uint32_t *width, uint32_t *height,
                                                      char *message, size_t message_size);

/* Decodes the pixels into `pixels` (height rows of width * channels bytes),
 * then reads the rest of the file up to IEND. Frees the decoder. Returns 0,
 * or -1 with the reason in `message`. */
GRAFT_PNG_INTERNAL int graft_png_finish(graft_png_decoder *decoder, uint8_t *pixels,
                                        char *message, size_t message_size);

/* Frees a decoder that will not be finished. */
GRAFT_PNG_INTERNAL void graft_png_discard(graft_png_decoder *decoder);

#ifdef __cplusplus
}
#endif

#endif
