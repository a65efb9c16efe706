; Definitions around a cursor, read by dglsp/syntax/gap.py (capture names: see python.scm).
(function_declaration body: (statement_block "{" @open) @body) @definition @function
(generator_function_declaration body: (statement_block "{" @open) @body) @definition @function
(function_expression body: (statement_block "{" @open) @body) @definition @function
(arrow_function body: (statement_block "{" @open) @body) @definition @function
(method_definition body: (statement_block "{" @open) @body) @definition @function
(class_declaration body: (class_body "{" @open)) @definition
(abstract_class_declaration body: (class_body "{" @open)) @definition
(interface_declaration body: (interface_body "{" @open)) @definition
(internal_module body: (statement_block "{" @open)) @definition
(comment) @keep
