// AVX-512 row add for the embedding backward (leaf code only).
#include "cpu/embedding/row_add_body.h"

namespace fastnn {

RowAddFn row_add_avx512() { return &row_add<VecAvx512>; }
RowCopyFn row_copy_avx512() { return &row_copy<VecAvx512>; }
RowSetFn row_set_avx512() { return &row_set<VecAvx512>; }

}  // namespace fastnn
