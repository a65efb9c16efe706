((throw_statement (object_creation_expression type: (type_identifier) @_t)) @hole
  (#any-of? @_t "UnsupportedOperationException" "RuntimeException"))
((line_comment) @hole (#match? @hole "TODO|FIXME"))
((block_comment) @hole (#match? @hole "TODO|FIXME"))
