#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include "cjpeg.h"

int cjpeg_library_version(void) { return JPEG_LIB_VERSION; }
void cjpeg_free(void *pointer) { free(pointer); }

// The default error manager calls exit(); ours jumps back to the caller with the message.
struct guarded_error {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char *message;
    size_t message_size;
};

static void guarded_exit(j_common_ptr cinfo) {
    struct guarded_error *err = (struct guarded_error *)cinfo->err;
    if (err->message && err->message_size > 0) {
        char buffer[JMSG_LENGTH_MAX];
        (*cinfo->err->format_message)(cinfo, buffer);
        snprintf(err->message, err->message_size, "%s", buffer);
    }
    longjmp(err->jump, 1);
}

// Warnings (truncation, corrupt entropy data) are counted, not printed: the caller decides.
static void quiet_output(j_common_ptr cinfo) { (void)cinfo; }

static void remember_warning(j_common_ptr cinfo, int level) {
    struct guarded_error *err = (struct guarded_error *)cinfo->err;
    if (level < 0) {
        if (err->base.num_warnings == 0 && err->message && err->message_size > 0) {
            char buffer[JMSG_LENGTH_MAX];
            (*cinfo->err->format_message)(cinfo, buffer);
            snprintf(err->message, err->message_size, "%s", buffer);
        }
        err->base.num_warnings++;
    }
}

static void set_message(char *message, size_t size, const char *text) {
    if (message && size > 0) snprintf(message, size, "%s", text);
}

int cjpeg_decode_rgb(const unsigned char *data, size_t size,
                     unsigned char **rgb, int *width, int *height,
                     char *message, size_t message_size) {
    struct jpeg_decompress_struct cinfo;
    struct guarded_error err;
    // volatile: these change between setjmp and a longjmp back to it.
    unsigned char *volatile out = NULL;
    unsigned char *volatile row = NULL;
    *rgb = NULL;
    *width = 0;
    *height = 0;
    set_message(message, message_size, "");
    if (size == 0) {
        set_message(message, message_size, "empty file");
        return CJPEG_ERROR;
    }

    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&err.base);
    err.base.error_exit = guarded_exit;
    err.base.output_message = quiet_output;
    err.base.emit_message = remember_warning;
    err.message = message;
    err.message_size = message_size;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(out);
        free(row);
        return CJPEG_ERROR;
    }
    jpeg_CreateDecompress(&cinfo, JPEG_LIB_VERSION, sizeof cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);

    int cmyk = 0;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: case JCS_YCbCr: case JCS_RGB:
        cinfo.out_color_space = JCS_RGB;
        break;
    case JCS_CMYK: case JCS_YCCK:
        cinfo.out_color_space = JCS_CMYK;
        cmyk = 1;
        break;
    default:
        jpeg_destroy_decompress(&cinfo);
        set_message(message, message_size, "unsupported JPEG colour space");
        return CJPEG_UNSUPPORTED;
    }
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height, c = cinfo.output_components;
    if ((cmyk && c != 4) || (!cmyk && c != 3) || w <= 0 || h <= 0) {
        jpeg_destroy_decompress(&cinfo);
        set_message(message, message_size, "unexpected number of colour components");
        return CJPEG_UNSUPPORTED;
    }
    out = malloc((size_t)w * (size_t)h * 3);
    row = malloc((size_t)w * (size_t)c);
    if (!out || !row) {
        jpeg_destroy_decompress(&cinfo);
        free(out);
        free(row);
        set_message(message, message_size, "out of memory");
        return CJPEG_ERROR;
    }
    // Adobe CMYK files store inverted ink values (Photoshop's convention, as Pillow reads them).
    int inverted = cinfo.saw_Adobe_marker;
    while (cinfo.output_scanline < cinfo.output_height) {
        unsigned char *dst = out + (size_t)cinfo.output_scanline * (size_t)w * 3;
        if (!cmyk) {
            JSAMPROW target = dst;
            jpeg_read_scanlines(&cinfo, &target, 1);
            continue;
        }
        JSAMPROW target = row;
        jpeg_read_scanlines(&cinfo, &target, 1);
        for (int x = 0; x < w; x++) {
            int k = row[4 * x + 3];
            if (!inverted) k = 255 - k;
            for (int ch = 0; ch < 3; ch++) {
                int v = row[4 * x + ch];
                if (!inverted) v = 255 - v;
                dst[3 * x + ch] = (unsigned char)((v * k + 127) / 255);
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    int warnings = (int)err.base.num_warnings;
    jpeg_destroy_decompress(&cinfo);
    free(row);
    if (warnings > 0) {
        free(out);
        return CJPEG_TRUNCATED;
    }
    *rgb = out;
    *width = w;
    *height = h;
    return CJPEG_OK;
}

int cjpeg_encode(const unsigned char *pixels, int width, int height, int components, int quality,
                 unsigned char **jpeg, size_t *jpeg_size, char *message, size_t message_size) {
    struct jpeg_compress_struct cinfo;
    struct guarded_error err;
    unsigned char *volatile buffer = NULL;
    unsigned long buffer_size = 0;
    *jpeg = NULL;
    *jpeg_size = 0;
    set_message(message, message_size, "");
    if (width <= 0 || height <= 0 || (components != 1 && components != 3 && components != 4)) {
        set_message(message, message_size, "invalid image size or component count");
        return CJPEG_UNSUPPORTED;
    }
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&err.base);
    err.base.error_exit = guarded_exit;
    err.base.output_message = quiet_output;
    err.base.emit_message = remember_warning;
    err.message = message;
    err.message_size = message_size;
    if (setjmp(err.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        return CJPEG_ERROR;
    }
    jpeg_CreateCompress(&cinfo, JPEG_LIB_VERSION, sizeof cinfo);
    unsigned char *mem = NULL;
    jpeg_mem_dest(&cinfo, &mem, &buffer_size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = components;
    cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : components == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    cinfo.optimize_coding = FALSE;
    cinfo.dct_method = JDCT_ISLOW;
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW src = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * (size_t)width * (size_t)components);
        jpeg_write_scanlines(&cinfo, &src, 1);
    }
    jpeg_finish_compress(&cinfo);
    buffer = mem;
    jpeg_destroy_compress(&cinfo);
    *jpeg = buffer;
    *jpeg_size = (size_t)buffer_size;
    return CJPEG_OK;
}
