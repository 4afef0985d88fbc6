#include "status.h"

#include <string.h>

const char *status_code_name(int code)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
        &branchline__v1__status__code__descriptor, code);
    return v ? v->name : "UNKNOWN";
}

int status_code_from_name(const char *name)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(
        &branchline__v1__status__code__descriptor, name);
    return v ? v->value : -1;
}
