/* A small JSON reader for the `dbx` program (tools/): parses one JSON text into a tree of
 * values (objects keep their keys in order), enough for the metrics lines of `dbx train` and
 * the reports of bench/. Strings are decoded to UTF-8 (\uXXXX escapes included). Nesting is
 * limited to 64 levels. Owned by tools/; no global state. */
#ifndef DBX_TOOLS_JSON_H
#define DBX_TOOLS_JSON_H

#include <stddef.h>

typedef enum js_kind { JS_NULL, JS_BOOL, JS_NUM, JS_STR, JS_ARR, JS_OBJ } js_kind;

typedef struct js {
    js_kind kind;
    double num;          /* JS_NUM; JS_BOOL: 0 or 1 */
    char *str;           /* JS_STR */
    int n;               /* JS_ARR, JS_OBJ: items */
    struct js *items;    /* JS_ARR, JS_OBJ */
    char **keys;         /* JS_OBJ: keys[i] names items[i] */
} js;

/* Parses text[0..len) (one value, surrounded by whitespace only) into *out. Returns 0, or -1
 * with *err set to a static description and *at to the offset of the problem (either may
 * be NULL). */
int js_parse(const char *text, size_t len, js *out, const char **err, size_t *at);
void js_free(js *v);
/* The member key of object o (NULL if o is not an object or has no such member). */
const js *js_get(const js *o, const char *key);
/* The number o.key, or dflt when absent, null or not a number. */
double js_num(const js *o, const char *key, double dflt);
/* The string o.key, or NULL. */
const char *js_str(const js *o, const char *key);

#endif /* DBX_TOOLS_JSON_H */
