; Definitions around a cursor, read by dglsp/syntax/gap.py (capture names: see python.scm).
(method_declaration body: (block "{" @open) @body) @definition @function
(constructor_declaration body: (constructor_body "{" @open) @body) @definition @function
(lambda_expression body: (block "{" @open) @body) @definition @function
(class_declaration body: (class_body "{" @open)) @definition
(interface_declaration body: (interface_body "{" @open)) @definition
(enum_declaration body: (enum_body "{" @open)) @definition
(record_declaration body: (class_body "{" @open)) @definition
(line_comment) @keep
(block_comment) @keep
