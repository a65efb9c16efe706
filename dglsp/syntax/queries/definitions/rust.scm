; Definitions around a cursor, read by dglsp/syntax/gap.py (capture names: see python.scm).
(function_item body: (block "{" @open) @body) @definition @function
(closure_expression body: (block "{" @open) @body) @definition @function
(impl_item body: (declaration_list "{" @open)) @definition
(trait_item body: (declaration_list "{" @open)) @definition
(mod_item body: (declaration_list "{" @open)) @definition
(struct_item) @definition
(enum_item) @definition
(line_comment) @keep
(block_comment) @keep
