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
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "cpuid_internal.h"
#include "cpuid_policy.h"
#include "mig_error.h"

#define MAP_ADVICE "fix the map, or set XENMIG_LIBVIRT_CPU_MAP=none to leave it out"
/* Largest map file read (upstream's biggest, x86_features.xml, is 41 KB). */
#define MAP_FILE_MAX (1u << 20)

/* The attribute `name` of node as a new string (xmlFree), NULL if absent. */
static xmlChar *attribute(xmlNode *node, const char *name)
{
    return xmlGetProp(node, (const xmlChar *)name);
}

static bool is_element(const xmlNode *node, const char *name)
{
    return node->type == XML_ELEMENT_NODE && !strcmp((const char *)node->name, name);
}

/* Parse the file at path into *doc (xmlFreeDoc); errors quote libxml2's reason and line. */
static int parse_file(const char *path, xmlDoc **doc)
{
    char *text = NULL;
    size_t length;
    int rc = cpuid_read_text_file(path, "libvirt CPU map file", MAP_FILE_MAX,
                                  CPUID_READ_REFUSE_NUL, &text, &length);

    if (rc)
        return cpuid_error_prefix("%s", MAP_ADVICE);
    *doc = xmlReadMemory(text, (int)length, path, NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    free(text);
    if (!*doc) {
        const xmlError *e = xmlGetLastError();
        const char *why = e && e->message ? e->message : "?";
        size_t why_len = strcspn(why, "\n");   /* libxml2's message ends in a newline */

        return mig_error_set(MIG_EFORMAT, "%s:%d: not well-formed XML (libxml2: %.*s): %s",
                             path, e ? e->line : 0, (int)(why_len > 120 ? 120 : why_len), why,
                             MAP_ADVICE);
    }
    return 0;
}

/* Add one <feature> child of a model to def's lists. */
static int add_feature(xmlNode *node, const char *path, struct cpuid_libvirt_def *def)
{
    xmlChar *name = attribute(node, "name"), *removed = attribute(node, "removed");
    int rc;

    if (!name || !*name)
        rc = mig_error_set(MIG_EFORMAT, "%s:%ld: a <feature> of model '%s' has no name: %s",
                           path, xmlGetLineNo(node), def->name, MAP_ADVICE);
    else if (removed && !strcmp((const char *)removed, "yes"))
        rc = cpuid_word_list_add(&def->removed, (const char *)name, strlen((char *)name));
    else
        rc = cpuid_word_list_add(&def->features, (const char *)name, strlen((char *)name));
    xmlFree(name);
    xmlFree(removed);
    return rc;
}

/* Copy the name attribute of node into *field (a model's ancestor or vendor). */
static int copy_name(xmlNode *node, const char *path, const char *model, char **field)
{
    xmlChar *name = attribute(node, "name");

    if (!name || !*name || *field) {
        xmlFree(name);
        return mig_error_set(MIG_EFORMAT, "%s:%ld: model '%s': <%s> %s: %s", path,
                             xmlGetLineNo(node), model, (const char *)node->name,
                             *field ? "given twice" : "without a name", MAP_ADVICE);
    }
    *field = cpuid_strdup((const char *)name);
    xmlFree(name);
    return *field ? 0 : MIG_ENOMEM;
}

/* One <model> element of a map file. */
static int read_model(xmlNode *node, const char *path, struct cpuid_libvirt_defs *defs)
{
    xmlChar *name = attribute(node, "name");
    struct cpuid_libvirt_def *def;
    char *source;
    int rc = 0;

    if (!name || !*name) {
        xmlFree(name);
        return mig_error_set(MIG_EFORMAT, "%s:%ld: a <model> without a name: %s", path,
                             xmlGetLineNo(node), MAP_ADVICE);
    }
    if (asprintf(&source, "installed: %s", path) < 0)
        source = NULL;
    def = source ? cpuid_libvirt_def_add(defs, (const char *)name, source) : NULL;
    free(source);
    xmlFree(name);
    if (!def)
        return mig_error_set(MIG_ENOMEM, "out of memory reading '%s'", path);
    for (xmlNode *c = node->children; c && !rc; c = c->next) {
        if (is_element(c, "feature"))
            rc = add_feature(c, path, def);
        else if (is_element(c, "model"))
            rc = copy_name(c, path, def->name, &def->ancestor);
        else if (is_element(c, "vendor"))
            rc = copy_name(c, path, def->name, &def->vendor);
    }
    return rc;
}

/* The models of one included file, in file order. */
static int read_models_file(const char *dir, const char *file, long line,
                            struct cpuid_libvirt_defs *defs)
{
    char path[4096];
    xmlDoc *doc = NULL;
    xmlNode *root;
    int rc;

    if (!*file || strchr(file, '/') || !strcmp(file, "..") ||
        (size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
        return mig_error_set(MIG_EFORMAT, "%s/index.xml:%ld: include '%.80s' is not a file "
                             "name in the map directory: %s", dir, line, file, MAP_ADVICE);
    rc = parse_file(path, &doc);
    if (rc)
        return rc;
    root = xmlDocGetRootElement(doc);
    for (xmlNode *n = root ? root->children : NULL; n && !rc; n = n->next)
        if (is_element(n, "model"))
            rc = read_model(n, path, defs);
    xmlFreeDoc(doc);
    return rc;
}

/* The <include>s of an <arch> or <group>, groups flattened, in order. */
static int read_includes(const char *dir, xmlNode *parent, unsigned int depth,
                         struct cpuid_libvirt_defs *defs)
{
    int rc = 0;

    if (depth > 8)
        return mig_error_set(MIG_EFORMAT, "%s/index.xml:%ld: <group>s nested more than 8 "
                             "deep: %s", dir, xmlGetLineNo(parent), MAP_ADVICE);
    for (xmlNode *n = parent->children; n && !rc; n = n->next) {
        if (is_element(n, "group")) {
            rc = read_includes(dir, n, depth + 1, defs);
        } else if (is_element(n, "include")) {
            xmlChar *file = attribute(n, "filename");

            rc = read_models_file(dir, file ? (const char *)file : "", xmlGetLineNo(n), defs);
            xmlFree(file);
        }
    }
    return rc;
}

/* The <arch name='x86'> element of index.xml, NULL if none. */
static xmlNode *x86_arch(xmlDoc *doc)
{
    xmlNode *root = xmlDocGetRootElement(doc);

    for (xmlNode *n = root ? root->children : NULL; n; n = n->next) {
        xmlChar *name = is_element(n, "arch") ? attribute(n, "name") : NULL;
        bool x86 = name && !strcmp((const char *)name, "x86");

        xmlFree(name);
        if (x86)
            return n;
    }
    return NULL;
}

int cpuid_libvirt_map_read(const char *dir, struct cpuid_libvirt_defs *defs)
{
    char path[4096];
    xmlDoc *doc = NULL;
    xmlNode *arch;
    int rc;

    xmlInitParser();
    if ((size_t)snprintf(path, sizeof(path), "%s/index.xml", dir) >= sizeof(path))
        return mig_error_set(MIG_ELIMIT, "libvirt CPU map directory name too long: '%.80s...'",
                             dir);
    rc = parse_file(path, &doc);
    if (rc)
        return rc;
    arch = x86_arch(doc);
    if (!arch)
        rc = mig_error_set(MIG_EFORMAT, "%s: no <arch name='x86'>: %s", path, MAP_ADVICE);
    else
        rc = read_includes(dir, arch, 0, defs);
    xmlFreeDoc(doc);
    return rc;
}
