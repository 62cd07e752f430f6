/*
 * libvirt_map.c: the x86 models of an installed libvirt CPU map
 * (/usr/share/libvirt/cpu_map, Debian's libvirt0), read with libxml2.
 *
 * index.xml lists, under <arch name='x86'>, the files to include in
 * libvirt's own order (newer maps put them in <group>s: flattened here);
 * each file holds <model name='...'> elements whose children we take:
 * <model name='ANCESTOR'/>, <vendor name='...'/> and <feature name='...'/>
 * (removed='yes': not part of the model; added='yes': part of it).
 * Signatures, <decode> and anything unknown are skipped, so a newer map
 * still reads.  Inheritance is resolved by libvirt_models.c.
 * This file must never read a file outside the map directory.
 *
 * libxml2 is loaded with dlopen when a map is read, not linked: it brings
 * ICU and libstdc++ along, and loading them cost every xl-ext command
 * (a restore, a migration's receiver) a fifth to a third of its CPU time
 * at start while only the libvirt levels read a map.  The library stays loaded once opened
 * (RTLD_NODELETE: libxml2 keeps thread-local state).
 */
#include "config.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "cpuid_internal.h"
#include "cpuid_policy.h"
#include "mig_error.h"

#define MAP_ADVICE "fix the map, or set XENMIG_LIBVIRT_CPU_MAP=none to leave it out"
#define LIBXML_ADVICE "install Debian's libxml2, or set XENMIG_LIBVIRT_CPU_MAP=none to " \
                      "leave the map out"
/* Largest map file read (upstream's biggest, x86_features.xml, is 41 KB). */
#define MAP_FILE_MAX (1u << 20)
/* libxml2's soname since 2000 (Debian's libxml2 package). */
#define LIBXML2_LIBRARY "libxml2.so.2"

/* The libxml2 calls this file makes, looked up in the loaded library. */
struct xml_api {
    void (*init_parser)(void);
    xmlDoc *(*read_memory)(const char *, int, const char *, const char *, int);
    const xmlError *(*last_error)(void);
    xmlChar *(*get_prop)(const xmlNode *, const xmlChar *);
    long (*line_no)(const xmlNode *);
    xmlNode *(*root_element)(const xmlDoc *);
    void (*free_doc)(xmlDoc *);
    xmlFreeFunc free;   /* the value of libxml2's variable xmlFree */
};

/* Open `library` into *handle (dlclose) and look its entry points up into *x. */
static int xml_load(const char *library, void **handle, struct xml_api *x)
{
    xmlFreeFunc *free_var;

    *handle = dlopen(library, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!*handle)
        return mig_error_set(MIG_EPLATFORM, "reading libvirt's CPU map needs libxml2, which "
                             "did not load (%.200s): %s", dlerror(), LIBXML_ADVICE);
    x->init_parser = (void (*)(void))dlsym(*handle, "xmlInitParser");
    x->read_memory = (xmlDoc *(*)(const char *, int, const char *, const char *, int))
        dlsym(*handle, "xmlReadMemory");
    x->last_error = (const xmlError *(*)(void))dlsym(*handle, "xmlGetLastError");
    x->get_prop = (xmlChar *(*)(const xmlNode *, const xmlChar *))dlsym(*handle, "xmlGetProp");
    x->line_no = (long (*)(const xmlNode *))dlsym(*handle, "xmlGetLineNo");
    x->root_element = (xmlNode *(*)(const xmlDoc *))dlsym(*handle, "xmlDocGetRootElement");
    x->free_doc = (void (*)(xmlDoc *))dlsym(*handle, "xmlFreeDoc");
    free_var = (xmlFreeFunc *)dlsym(*handle, "xmlFree");
    x->free = free_var ? *free_var : NULL;
    if (!x->init_parser || !x->read_memory || !x->last_error || !x->get_prop ||
        !x->line_no || !x->root_element || !x->free_doc || !x->free)
        return mig_error_set(MIG_EPLATFORM, "%s lacks a libxml2 entry point (xmlReadMemory, "
                             "xmlGetProp, ...): %s", library, LIBXML_ADVICE);
    x->init_parser();
    return 0;
}

/* The attribute `name` of node as a new string (x->free), NULL if absent. */
static xmlChar *attribute(const struct xml_api *x, xmlNode *node, const char *name)
{
    return x->get_prop(node, (const xmlChar *)name);
}

/* Free what attribute() returned; NULL is fine. */
static void attribute_free(const struct xml_api *x, xmlChar *value)
{
    if (value)
        x->free(value);
}

static bool is_element(const xmlNode *node, const char *name)
{
    return node->type == XML_ELEMENT_NODE && !strcmp((const char *)node->name, name);
}

/* Parse the file at path into *doc (x->free_doc); errors quote libxml2's reason and line. */
static int parse_file(const struct xml_api *x, const char *path, xmlDoc **doc)
{
    char *text = NULL;
    size_t length;
    int rc = cpuid_read_text_file(path, "libvirt CPU map file", MAP_FILE_MAX,
                                  CPUID_READ_REFUSE_NUL, &text, &length);

    if (rc)
        return cpuid_error_prefix("%s", MAP_ADVICE);
    *doc = x->read_memory(text, (int)length, path, NULL,
                          XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    free(text);
    if (!*doc) {
        const xmlError *e = x->last_error();
        const char *why = e && e->message ? e->message : "?";
        size_t why_len = strcspn(why, "\n");   /* libxml2's message ends in a newline */

        return mig_error_set(MIG_EFORMAT, "%s:%d: not well-formed XML (libxml2: %.*s): %s",
                             path, e ? e->line : 0, (int)(why_len > 120 ? 120 : why_len), why,
                             MAP_ADVICE);
    }
    return 0;
}

/* Add one <feature> child of a model to def's lists. */
static int add_feature(const struct xml_api *x, xmlNode *node, const char *path,
                       struct cpuid_libvirt_def *def)
{
    xmlChar *name = attribute(x, node, "name"), *removed = attribute(x, node, "removed");
    int rc;

    if (!name || !*name)
        rc = mig_error_set(MIG_EFORMAT, "%s:%ld: a <feature> of model '%s' has no name: %s",
                           path, x->line_no(node), def->name, MAP_ADVICE);
    else if (removed && !strcmp((const char *)removed, "yes"))
        rc = cpuid_word_list_add(&def->removed, (const char *)name, strlen((char *)name));
    else
        rc = cpuid_word_list_add(&def->features, (const char *)name, strlen((char *)name));
    attribute_free(x, name);
    attribute_free(x, removed);
    return rc;
}

/* Copy the name attribute of node into *field (a model's ancestor or vendor). */
static int copy_name(const struct xml_api *x, xmlNode *node, const char *path,
                     const char *model, char **field)
{
    xmlChar *name = attribute(x, node, "name");

    if (!name || !*name || *field) {
        attribute_free(x, name);
        return mig_error_set(MIG_EFORMAT, "%s:%ld: model '%s': <%s> %s: %s", path,
                             x->line_no(node), model, (const char *)node->name,
                             *field ? "given twice" : "without a name", MAP_ADVICE);
    }
    *field = cpuid_strdup((const char *)name);
    attribute_free(x, name);
    return *field ? 0 : MIG_ENOMEM;
}

/* One <model> element of a map file. */
static int read_model(const struct xml_api *x, xmlNode *node, const char *path,
                      struct cpuid_libvirt_defs *defs)
{
    xmlChar *name = attribute(x, node, "name");
    struct cpuid_libvirt_def *def;
    char *source;
    int rc = 0;

    if (!name || !*name) {
        attribute_free(x, name);
        return mig_error_set(MIG_EFORMAT, "%s:%ld: a <model> without a name: %s", path,
                             x->line_no(node), MAP_ADVICE);
    }
    if (asprintf(&source, "installed: %s", path) < 0)
        source = NULL;
    def = source ? cpuid_libvirt_def_add(defs, (const char *)name, source) : NULL;
    free(source);
    attribute_free(x, name);
    if (!def)
        return mig_error_set(MIG_ENOMEM, "out of memory reading '%s'", path);
    for (xmlNode *c = node->children; c && !rc; c = c->next) {
        if (is_element(c, "feature"))
            rc = add_feature(x, c, path, def);
        else if (is_element(c, "model"))
            rc = copy_name(x, c, path, def->name, &def->ancestor);
        else if (is_element(c, "vendor"))
            rc = copy_name(x, c, path, def->name, &def->vendor);
    }
    return rc;
}

/* The models of one included file, in file order. */
static int read_models_file(const struct xml_api *x, const char *dir, const char *file,
                            long line, struct cpuid_libvirt_defs *defs)
{
    char path[4096];
    xmlDoc *doc = NULL;
    xmlNode *root;
    int rc;

    if (!*file || strchr(file, '/') || !strcmp(file, "..") ||
        (size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
        return mig_error_set(MIG_EFORMAT, "%s/index.xml:%ld: include '%.80s' is not a file "
                             "name in the map directory: %s", dir, line, file, MAP_ADVICE);
    rc = parse_file(x, path, &doc);
    if (rc)
        return rc;
    root = x->root_element(doc);
    for (xmlNode *n = root ? root->children : NULL; n && !rc; n = n->next)
        if (is_element(n, "model"))
            rc = read_model(x, n, path, defs);
    x->free_doc(doc);
    return rc;
}

/* The <include>s of an <arch> or <group>, groups flattened, in order. */
static int read_includes(const struct xml_api *x, const char *dir, xmlNode *parent,
                         unsigned int depth, struct cpuid_libvirt_defs *defs)
{
    int rc = 0;

    if (depth > 8)
        return mig_error_set(MIG_EFORMAT, "%s/index.xml:%ld: <group>s nested more than 8 "
                             "deep: %s", dir, x->line_no(parent), MAP_ADVICE);
    for (xmlNode *n = parent->children; n && !rc; n = n->next) {
        if (is_element(n, "group")) {
            rc = read_includes(x, dir, n, depth + 1, defs);
        } else if (is_element(n, "include")) {
            xmlChar *file = attribute(x, n, "filename");

            rc = read_models_file(x, dir, file ? (const char *)file : "", x->line_no(n), defs);
            attribute_free(x, file);
        }
    }
    return rc;
}

/* The <arch name='x86'> element of index.xml, NULL if none. */
static xmlNode *x86_arch(const struct xml_api *x, xmlDoc *doc)
{
    xmlNode *root = x->root_element(doc);

    for (xmlNode *n = root ? root->children : NULL; n; n = n->next) {
        xmlChar *name = is_element(n, "arch") ? attribute(x, n, "name") : NULL;
        bool x86 = name && !strcmp((const char *)name, "x86");

        attribute_free(x, name);
        if (x86)
            return n;
    }
    return NULL;
}

int cpuid_libvirt_map_read_with(const char *library, const char *dir,
                                struct cpuid_libvirt_defs *defs)
{
    char path[4096];
    struct xml_api x;
    void *handle = NULL;
    xmlDoc *doc = NULL;
    xmlNode *arch;
    int rc;

    if ((size_t)snprintf(path, sizeof(path), "%s/index.xml", dir) >= sizeof(path))
        return mig_error_set(MIG_ELIMIT, "libvirt CPU map directory name too long: '%.80s...'",
                             dir);
    rc = xml_load(library, &handle, &x);
    if (!rc)
        rc = parse_file(&x, path, &doc);
    if (rc)
        goto out;
    arch = x86_arch(&x, doc);
    if (!arch)
        rc = mig_error_set(MIG_EFORMAT, "%s: no <arch name='x86'>: %s", path, MAP_ADVICE);
    else
        rc = read_includes(&x, dir, arch, 0, defs);
    x.free_doc(doc);
out:
    if (handle)
        dlclose(handle);
    return rc;
}

int cpuid_libvirt_map_read(const char *dir, struct cpuid_libvirt_defs *defs)
{
    return cpuid_libvirt_map_read_with(LIBXML2_LIBRARY, dir, defs);
}
