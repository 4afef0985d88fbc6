#include "tree.h"

#include <string.h>

#include "pbjson.h"

/* Paths compare without their leading and trailing '/' ("/" is the group, as ""). */
static const char *path_key(const char *path, size_t *len)
{
    if (!path)
        path = "";
    while (*path == '/')
        path++;
    *len = strlen(path);
    while (*len > 0 && path[*len - 1] == '/')
        (*len)--;
    return path;
}

/* The unit as a node with no children yet; NULL when out of memory. */
static json_t *node_new(const Branchline__V1__Unit *unit)
{
    json_t *node = pbjson_message(&unit->base);
    if (node && json_object_set_new(node, "children", json_array()) != 0) {
        json_decref(node);
        node = NULL;
    }
    return node;
}

/* Appends node to its parent's children when the parent came earlier, else to roots. */
static int attach(json_t *seen, json_t *roots, json_t *node, const Branchline__V1__Unit *unit)
{
    size_t plen, len;
    const char *parent = path_key(unit->parent_path, &plen);
    const char *self = path_key(unit->path, &len);
    json_t *up = json_object_getn(seen, parent, plen);
    json_t *into = up ? json_object_get(up, "children") : roots;
    if (json_array_append(into, node) != 0)
        return -1;
    return json_object_setn(seen, self, len, node);
}

json_t *tree_build(const Branchline__V1__UnitList *list)
{
    json_t *roots = json_array();
    json_t *seen = json_object();  /* path -> node, for the units so far */
    for (size_t i = 0; roots && seen && i < list->n_items; i++) {
        json_t *node = node_new(list->items[i]);
        int rc = node ? attach(seen, roots, node, list->items[i]) : -1;
        json_decref(node);
        if (rc != 0) {
            json_decref(roots);
            roots = NULL;
        }
    }
    if (!seen) {
        json_decref(roots);
        roots = NULL;
    }
    json_decref(seen);
    return roots;
}
