/* groklab: the Transformer in single precision (training and evaluation),
 * and the size of its work. */
#include "blas.h"
#include "groklab/model.h"
#include "groklab/rng.h"
#include "groklab/transformer.h"
#include "model/ops.h"
#include "model/transformer_parts.h"

#define R float
#define S f32
#define GEMM cblas_sgemm
#include "transformer_impl.h"

double gl_tf_work_bytes(const gl_tf_layout *L, int max_B, int rows, int lanes) {
    gl_tf_pick_shape(&rows, &lanes);
    double slot = (double)tf_carve_f32(NULL, NULL, NULL, L, rows);
    double keep = (L->spec.drop_emb > 0 || L->spec.drop_attn > 0 || L->spec.drop_resid > 0)
                      ? (double)rows * (double)gl_tf_mask_len(L)
                      : 0.0;
    return (double)lanes * (4.0 * slot + 4.0 * (double)gl_round_up(L->n_params, GL_ALIGN) + keep) +
           8.0 * (double)gl_max_chunks(max_B, rows, lanes);
}
