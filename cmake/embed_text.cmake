# Writes OUTPUT: a C++ source defining `const char* const SYMBOL` as the text of INPUT.
# Run as: cmake -DINPUT=... -DOUTPUT=... -DSYMBOL=... -DNAMESPACE=... -P embed_text.cmake
file(READ "${INPUT}" text)
# Raw string literals are limited in length by some compilers: split into chunks.
string(LENGTH "${text}" len)
set(chunks "")
set(pos 0)
while(pos LESS len)
  string(SUBSTRING "${text}" ${pos} 8000 piece)
  string(APPEND chunks "R\"evald(${piece})evald\"\n")
  math(EXPR pos "${pos} + 8000")
endwhile()
file(WRITE "${OUTPUT}" "// Generated from ${INPUT}; do not edit.\nnamespace ${NAMESPACE} {\nextern const char* const ${SYMBOL};\nconst char* const ${SYMBOL} =\n${chunks};\n}\n")
