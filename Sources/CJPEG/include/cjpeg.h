#ifndef CJPEG_H
#define CJPEG_H
#include <stddef.h>

// libjpeg behind setjmp: a corrupt JPEG becomes an error code here, never an exit().
// Swift cannot call setjmp, so every libjpeg call that can fail lives in cjpeg.c.

enum {
    CJPEG_OK = 0,
    CJPEG_ERROR = 1,      // libjpeg reported a fatal error; the message is in `message`
    CJPEG_TRUNCATED = 2,  // decoding finished only with warnings (premature end, corrupt data)
    CJPEG_UNSUPPORTED = 3 // a colour space or component count we do not convert
};

/// Decodes a JPEG held in memory to 8-bit RGB (grayscale, CMYK and YCCK are converted).
/// On success `*rgb` holds width*height*3 bytes allocated with malloc (free with cjpeg_free).
int cjpeg_decode_rgb(const unsigned char *data, size_t size,
                     unsigned char **rgb, int *width, int *height,
                     char *message, size_t message_size);

/// Encodes `components` (1 = gray, 3 = RGB, 4 = Adobe CMYK) interleaved 8-bit samples.
/// Baseline, no optimised tables, 4:2:0 for RGB: the output depends only on the inputs.
int cjpeg_encode(const unsigned char *pixels, int width, int height, int components, int quality,
                 unsigned char **jpeg, size_t *jpeg_size, char *message, size_t message_size);

void cjpeg_free(void *pointer);
int cjpeg_library_version(void);
#endif
