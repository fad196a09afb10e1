// Generic (baseline) row add for the embedding backward.
#include "cpu/embedding/row_add_body.h"

namespace fastnn {

RowAddFn row_add_generic() { return &row_add<VecScalar>; }
RowCopyFn row_copy_generic() { return &row_copy<VecScalar>; }
RowSetFn row_set_generic() { return &row_set<VecScalar>; }

}  // namespace fastnn
