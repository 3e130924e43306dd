/* groklab: the naming macros of a template written once for a real type.
 * A template header (mlp_impl.h, deep_impl.h, transformer_impl.h,
 * ops_impl.h) is included with R (float | double) and S (f32 | f64)
 * defined; it includes this file first, so that FN(name) is name_f32 or
 * name_f64, and template_end.h last, which undefines these and R and S. No
 * include guard: each instance includes it again. */
#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, S)
