; Spans a model learns to fill: one capture name per kind, read by dglsp/train/spans.py.
(block) @body
(expression_statement) @statement
(return_statement) @statement
(assignment right: (_) @expression)
(return_statement (_) @expression)
(call arguments: (argument_list) @arguments)
(parameters) @arguments
(argument_list (_) @expression)
(if_statement condition: (_) @expression)
(while_statement condition: (_) @expression)
(for_statement right: (_) @expression)
(binary_operator) @expression
(boolean_operator) @expression
(comparison_operator) @expression
(list_comprehension) @expression
(subscript) @expression
(if_statement) @block
(for_statement) @block
(while_statement) @block
(try_statement) @block
(with_statement) @block
(function_definition) @block
