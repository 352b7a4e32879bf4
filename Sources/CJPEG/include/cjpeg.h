#ifndef CJPEG_H
#define CJPEG_H
// libjpeg behind setjmp: a corrupt JPEG becomes an error code here, never an exit().
// Filled in by the data-stage work; the placeholder keeps the target buildable.
int cjpeg_library_version(void);
#endif
