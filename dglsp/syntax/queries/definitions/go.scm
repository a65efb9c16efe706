; Definitions around a cursor, read by dglsp/syntax/gap.py (capture names: see python.scm).
(function_declaration body: (block "{" @open) @body) @definition @function
(method_declaration body: (block "{" @open) @body) @definition @function
(func_literal body: (block "{" @open) @body) @definition @function
(type_declaration) @definition
(comment) @keep
