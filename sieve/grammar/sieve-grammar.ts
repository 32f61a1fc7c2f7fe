// The Sieve grammar (RFC 5228 section 8) for ohm-js. Kept as a TypeScript string
// constant because tsc does not copy .ohm files to dist/; sieve.ohm beside this
// file holds the same text for reading and editors.
//
// Syntactic rules (capitalised) skip `space`, which includes both comment
// forms; lexical rules (lower case) do not, so tags, numbers, strings and
// multi-line text are single tokens exactly as in the RFC's lexical grammar.
// Bare LF is accepted wherever CRLF is required, as Pigeonhole does.
export const sieveGrammarSource = String.raw`
Sieve {
  Script = Command* end

  Command = identifier Arguments Terminator
  Terminator = ";"   -- semi
             | Block -- block
  Block = "{" Command* "}"

  Arguments = Argument* TestPart?
  TestPart = TestList | Test
  Argument = StringList | number | tag
  TestList = "(" ListOf<Test, ","> ")"
  Test = identifier Arguments

  StringList = "[" ListOf<string, ","> "]"  -- list
             | string                       -- single

  identifier (an identifier) = (letter | "_") (alnum | "_")*
  tag (a tagged argument) = ":" identifier
  number (a number) = digit+ quantifier?
  quantifier = "K" | "M" | "G" | "k" | "m" | "g"

  string = multiline | quoted
  quoted = "\"" qchar* "\""
  qchar = "\\" any  -- escape
        | ~("\"" | "\\") any -- plain
  multiline = "text:" hspace* (hashComment | nl) mlLine* "." nl
  mlLine = ~("." nl) (~nl any)* nl
  hspace = " " | "\t"
  nl = "\r\n" | "\n"

  hashComment = "#" (~nl any)* (nl | end)
  bracketComment = "/*" (~"*/" any)* "*/"
  space += hashComment | bracketComment
}
`;
