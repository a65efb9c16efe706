((comment) @hole (#match? @hole "TODO|FIXME"))
