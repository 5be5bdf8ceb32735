-- expect-syntax: 3:1: syntax error near <eof>
x
