((call_expression function: (identifier) @_p arguments: (argument_list (interpreted_string_literal) @_s)) @hole
  (#eq? @_p "panic") (#match? @_s "(?i)todo|not implemented"))
((comment) @hole (#match? @hole "TODO|FIXME"))
