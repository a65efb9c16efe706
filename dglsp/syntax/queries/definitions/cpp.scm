; Definitions around a cursor, read by dglsp/syntax/gap.py (capture names: see python.scm).
(function_definition body: (compound_statement "{" @open) @body) @definition @function
(lambda_expression body: (compound_statement "{" @open) @body) @definition @function
(class_specifier body: (field_declaration_list "{" @open)) @definition
(struct_specifier body: (field_declaration_list "{" @open)) @definition
(union_specifier body: (field_declaration_list "{" @open)) @definition
(enum_specifier body: (enumerator_list "{" @open)) @definition
(namespace_definition body: (declaration_list "{" @open)) @definition
(comment) @keep
