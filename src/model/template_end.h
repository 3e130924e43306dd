/* groklab: the end of a template instance (template.h): its naming macros,
 * R and S undefined, so that nothing leaks into the including file. */
#undef FN
#undef CAT
#undef CAT_
#undef S
#undef R
