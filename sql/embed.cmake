# Writes a C file holding every SQL file as a byte array: the table
# migrations as {version, name, sql}, the api files as {name, sql}, and the
# names of the routines the table migrations create (the ones `branchd
# migrate` keeps when it re-creates the api). Hex-encoding avoids any
# escaping of the SQL text.
set(body "#include <stddef.h>\n\n#include \"migrations.h\"\n\n")
set(i 0)

# embed(FILE): appends the array s<i> holding FILE's bytes to body.
macro(embed file)
  file(READ ${file} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND body "static const char s${i}[] = {${bytes}0x00};\n")
endmacro()

set(schema_table "")
set(routines "")
foreach(f IN LISTS SCHEMA_FILES)
  get_filename_component(base ${f} NAME_WE)
  string(SUBSTRING ${base} 0 3 ver)
  math(EXPR ver "${ver}")
  embed(${f})
  string(APPEND schema_table "    {${ver}, \"${base}\", s${i}},\n")
  math(EXPR i "${i} + 1")
  file(READ ${f} text)
  string(REGEX MATCHALL "CREATE[ \t\r\n]+(OR[ \t\r\n]+REPLACE[ \t\r\n]+)?(FUNCTION|PROCEDURE)[ \t\r\n]+[a-z_]+\\.[a-z_0-9]+"
         found "${text}")
  foreach(m IN LISTS found)
    string(REGEX REPLACE ".*[ \t\r\n]" "" name "${m}")
    string(APPEND routines "    \"${name}\",\n")
  endforeach()
endforeach()

set(api_table "")
set(api_count 0)
foreach(f IN LISTS API_FILES)
  get_filename_component(base ${f} NAME_WE)
  embed(${f})
  string(APPEND api_table "    {\"${base}\", s${i}},\n")
  math(EXPR i "${i} + 1")
  math(EXPR api_count "${api_count} + 1")
endforeach()

list(LENGTH SCHEMA_FILES schema_count)
string(APPEND body "\nconst migration_t migrations[] = {\n${schema_table}};\n")
string(APPEND body "const int migrations_count = ${schema_count};\n")
string(APPEND body "\nconst api_file_t api_files[] = {\n${api_table}};\n")
string(APPEND body "const int api_files_count = ${api_count};\n")
string(APPEND body "\nconst char *const schema_routines[] = {\n${routines}    NULL};\n")
file(WRITE ${OUT} "${body}")
