#include <cblas.h>
// Exported by OpenBLAS but not declared in every cblas.h.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
