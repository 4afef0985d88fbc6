/*
 * unit tree: the flat, path-ordered UnitList of unit_list{under, depth}
 * turned into nested nodes. Each node is the unit's JSON object (pbjson)
 * plus "children", an array in list order. A unit whose parent does not
 * come before it in the list is a root: PATH itself, or PATH's children
 * when the daemon leaves PATH out. Linking only to earlier units also means
 * no answer, however odd, can make a cycle.
 */
#ifndef BRANCHCTL_TREE_H
#define BRANCHCTL_TREE_H

#include <jansson.h>

#include "branchline.pb-c.h"

/* The array of root nodes; NULL when out of memory. */
json_t *tree_build(const Branchline__V1__UnitList *list) __attribute__((warn_unused_result));

#endif
