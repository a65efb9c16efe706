; Holes a programmer leaves for later: dglsp's "Fill holes" fills each of them.
(expression_statement (ellipsis)) @hole
(assignment right: (ellipsis) @hole)
(pass_statement) @hole
((raise_statement (identifier) @_e) @hole (#eq? @_e "NotImplementedError"))
((raise_statement (call function: (identifier) @_e)) @hole (#eq? @_e "NotImplementedError"))
((comment) @hole (#match? @hole "TODO|FIXME"))
