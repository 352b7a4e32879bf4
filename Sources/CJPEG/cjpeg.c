#include <stdio.h>
#include <jpeglib.h>
#include "cjpeg.h"

int cjpeg_library_version(void) { return JPEG_LIB_VERSION; }
