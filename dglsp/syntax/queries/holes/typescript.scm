((throw_statement (new_expression constructor: (identifier) @_e arguments: (arguments (string) @_s))) @hole
  (#eq? @_e "Error") (#match? @_s "(?i)todo|not implemented"))
((comment) @hole (#match? @hole "TODO|FIXME"))
