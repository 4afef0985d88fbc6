/*
 * Protobuf messages as JSON, through their descriptors: the proto field
 * names as keys in field-number order, integers as JSON numbers, bools as
 * true/false, repeated fields as arrays, nested messages as objects. Every
 * result branchctl prints goes through here, whatever its message, and so
 * does every repeated or message field branchd passes to SQL as jsonb.
 */
#ifndef BRANCHLINE_PBJSON_H
#define BRANCHLINE_PBJSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

/* A JSON string for text from the server, which need not be UTF-8 (bytes
 * of a string that is not become '?'). NULL is "". NULL: out of memory. */
json_t *pbjson_text(const char *s);

/* m as a JSON object; NULL m is JSON null. NULL: out of memory. */
json_t *pbjson_message(const ProtobufCMessage *m);

/* One field of m (an array when repeated). NULL: out of memory. */
json_t *pbjson_field(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f);

/* Sets m's scalar fields (strings, integers, bools) from the members of
 * obj with their names; others and nulls are left as they are. Strings
 * point into obj, which must outlive m's use. A scalar alone in a oneof is
 * marked present. */
void pbjson_fill_scalars(ProtobufCMessage *m, const json_t *obj);

/* The item message of a list (`repeated X items = 1` and nothing else), or NULL. */
const ProtobufCMessageDescriptor *pbjson_list_items(const ProtobufCMessageDescriptor *d);

#endif
