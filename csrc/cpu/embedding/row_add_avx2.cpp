// AVX2 row add for the embedding backward (leaf code only).
#include "cpu/embedding/row_add_body.h"

namespace fastnn {

RowAddFn row_add_avx2() { return &row_add<VecAvx2>; }
RowCopyFn row_copy_avx2() { return &row_copy<VecAvx2>; }
RowSetFn row_set_avx2() { return &row_set<VecAvx2>; }

}  // namespace fastnn
