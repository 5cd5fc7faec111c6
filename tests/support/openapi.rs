//! Test support: a small OpenAPI 2.0 (swagger) validator for the PUT bodies this
//! tool sends to `Microsoft.SecurityInsights` (alertRules, dataConnectors,
//! automationRules), checked against Microsoft's own specification files.
//!
//! Dependency-free apart from `serde_json`. Reads the spec folder
//! `../shared/fixtures/arm-specs` in place (see its `SOURCES.md`); never touches the
//! network.
//!
//! # Loading
//! Every `*.json` file under the folder is loaded. The files keep the `$ref`s of their
//! original repository (Azure/azure-rest-api-specs), so each local file is given its
//! original repository path (`2025-09-01/X` -> `.../Microsoft.SecurityInsights/stable/
//! 2025-09-01/X`, `securityinsights-common/2.0/X` -> `.../resource-manager/common/2.0/X`,
//! `common-types/X` -> `specification/common-types/X`) and relative `$ref`s are resolved
//! in that space, fragments being JSON pointers (`#/definitions/X`).
//!
//! The PUT body schema of a resource type is found from the specs themselves: the `put`
//! operation of a path ending in `.../Microsoft.SecurityInsights/<type>/{name}` and its
//! `in: body` parameter. Endpoints are searched stable first, then preview, newest
//! api-version first. For a polymorphic base (`discriminator: "kind"`), the subtype is
//! the definition that extends the base through `allOf` (directly or transitively) and
//! whose `x-ms-discriminator-value` (or, failing that, its name) equals the body's
//! `kind`; the first endpoint that defines the kind wins, so `AzureSecurityCenter` is
//! checked against 2025-09-01 and `MicrosoftThreatProtection` against
//! 2025-07-01-preview. A kind no spec defines is reported as the single problem
//! `no spec defines kind <kind>`, for the caller to skip.
//!
//! # What is enforced (what ARM checks on a request body)
//! - `$ref` chains, and `allOf`: the properties, `required` lists and constraints of all
//!   parts apply together (the most derived declaration of a property wins).
//! - Nested polymorphism: a `$ref` to a definition with a `discriminator` (automation
//!   rule `actionType` / `conditionType`, connector auth `type`) dispatches to the
//!   matching subtype; an unknown value is checked against the base only (open enum).
//! - `required` properties must be present and not null, except `readOnly` ones.
//! - `type`: object, array (each item against `items`), string, boolean, integer (an
//!   integral number), number. A schema without `type` but with `properties` or
//!   `additionalProperties` is taken as an object; without either, any type passes.
//! - `format: int32` / `int64`: the integer must fit the range.
//! - `enum`, only when it is closed: `x-ms-enum` absent or `modelAsString` not `true`.
//!   In these specs that is `triggerOperator` (`AlertRuleTriggerOperator`), the
//!   connector `Availability.status` and two common-types enums. Matching is exact
//!   (case-sensitive).
//! - `minimum` / `maximum` (and boolean `exclusiveMinimum` / `exclusiveMaximum`),
//!   `minLength` / `maxLength` (in characters), `minItems` / `maxItems`.
//! - `additionalProperties` given as a schema: properties not declared are checked
//!   against it.
//! - `x-nullable: true` admits `null`.
//!
//! # What is deliberately not enforced
//! - `readOnly` properties (`id`, `name`, `type`, `systemData`, `lastModifiedUtc`, ...)
//!   are never required and never rejected, and their values are not checked: ARM
//!   ignores them in a request.
//! - Undeclared properties are allowed (ARM tolerates them, and the tool passes unknown
//!   fields through), as is `additionalProperties: false`/`true` (none occur here).
//! - Open enums (`modelAsString: true`): any string passes.
//! - `null` for an *optional* declared property is taken as "absent" (what ARM's
//!   deserializers do); `null` for a required one, an array item or an
//!   `additionalProperties` value fails unless `x-nullable`.
//! - `pattern` (needs a regex engine; only the common-types resource `kind` and path
//!   parameters carry one), `format` other than the integer ranges (`date-time`,
//!   `duration`, `uuid`, ... are plain strings here), `uniqueItems`, `default`.
//! - `x-ms-client-flatten` (client-side only; the wire shape keeps `properties`),
//!   `x-ms-secret`/`x-secret`, `x-ms-mutability`, and the OpenAPI-3-style
//!   `x-ms-discriminator` mapping (to `#/components/...`) of the REST API poller paging
//!   config, which points nowhere in a swagger 2.0 file.
//!
//! Cycles: `$ref` chains stop after a fixed number of hops, `allOf` walks keep a visited
//! set, and value recursion is bounded by the body's own depth (with a hard limit).
#![allow(dead_code)]

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

const MAX_REF_HOPS: usize = 64;
const MAX_DEPTH: usize = 200;

/// Loaded specs: every file of the folder, with `$ref`s resolved across files on use.
pub struct Specs {
    dir: PathBuf,
    /// Original repository path -> document.
    docs: BTreeMap<String, Doc>,
    /// Resource type (`alertRules`, ...) -> its PUT body schemas, in search order.
    endpoints: BTreeMap<String, Vec<Endpoint>>,
    /// (document, base definition) -> discriminator value -> (document, subtype definition).
    subtypes: BTreeMap<(String, String), BTreeMap<String, (String, String)>>,
}

struct Doc {
    /// Path relative to the spec folder, for messages.
    local: String,
    json: Value,
}

struct Endpoint {
    doc: String,
    api_version: String,
    preview: bool,
    /// JSON pointer to the body parameter's `schema` (after resolving the parameter).
    schema_ptr: String,
}

/// A schema node inside one loaded document; `def` is set when the node is
/// `#/definitions/<def>` of that document.
#[derive(Clone, Copy)]
struct Loc<'a> {
    doc: &'a str,
    node: &'a Value,
    def: Option<&'a str>,
}

/// Definitions reachable from the PUT bodies, and the `$ref`s among them that do not
/// resolve.
pub struct RefReport {
    /// `local/file.json#/definitions/Name`, sorted.
    pub reachable: BTreeSet<String>,
    pub unresolved: Vec<String>,
}

impl Specs {
    /// Loads from `dir` = .../fixtures/arm-specs. Returns None if the folder is missing.
    /// Panics on a file that is not JSON (a broken fixture is a test failure).
    pub fn load(dir: &Path) -> Option<Specs> {
        if !dir.is_dir() {
            return None;
        }
        let mut files = Vec::new();
        collect_json_files(dir, dir, &mut files);
        let mut docs = BTreeMap::new();
        for rel in files {
            let text = std::fs::read_to_string(dir.join(&rel))
                .unwrap_or_else(|e| panic!("reading {rel}: {e}"));
            let json: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {rel}: {e}"));
            docs.insert(virtual_path(&rel), Doc { local: rel, json });
        }
        let mut specs = Specs {
            dir: dir.to_path_buf(),
            docs,
            endpoints: BTreeMap::new(),
            subtypes: BTreeMap::new(),
        };
        specs.endpoints = specs.find_endpoints();
        specs.subtypes = specs.find_subtypes();
        Some(specs)
    }

    /// Validates a PUT body for `resource_type` ("alertRules" | "dataConnectors" |
    /// "automationRules"). Err lists every problem as `<JSON pointer>: <what>`, sorted.
    pub fn validate(&self, resource_type: &str, body: &Value) -> Result<(), Vec<String>> {
        let Some(eps) = self.endpoints.get(resource_type).filter(|e| !e.is_empty()) else {
            return Err(vec![format!(
                "no spec defines a PUT body for resource type {resource_type}"
            )]);
        };
        let mut errs = Vec::new();
        let first = match self.endpoint_base(&eps[0]) {
            Ok(loc) => loc,
            Err(e) => return Err(vec![e]),
        };
        match self.discriminator(first) {
            None => self.check(first, body, "", true, 0, &mut errs),
            Some(prop) => match body.get(prop).and_then(Value::as_str) {
                // Missing or mistyped `kind`: report it against the base definition.
                None => self.check(first, body, "", false, 0, &mut errs),
                Some(kind) => {
                    let sub = eps.iter().find_map(|ep| {
                        let base = self.endpoint_base(ep).ok()?;
                        self.subtype(base, kind)
                    });
                    match sub {
                        Some(sub) => self.check(sub, body, "", false, 0, &mut errs),
                        None => return Err(vec![format!("no spec defines kind {kind}")]),
                    }
                }
            },
        }
        errs.sort();
        errs.dedup();
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }

    /// Whether some spec defines this kind for this resource type.
    pub fn knows_kind(&self, resource_type: &str, kind: &str) -> bool {
        self.endpoints
            .get(resource_type)
            .into_iter()
            .flatten()
            .filter_map(|ep| self.endpoint_base(ep).ok())
            .any(|base| self.subtype(base, kind).is_some())
    }

    /// Every kind defined for `resource_type`, with the api-version whose spec is used
    /// for it (the first in search order), sorted by kind.
    pub fn kinds(&self, resource_type: &str) -> Vec<(String, String)> {
        let mut out: BTreeMap<String, String> = BTreeMap::new();
        for ep in self.endpoints.get(resource_type).into_iter().flatten() {
            let Ok(base) = self.endpoint_base(ep) else {
                continue;
            };
            let Some(def) = base.def else { continue };
            if let Some(subs) = self.subtypes.get(&(base.doc.to_string(), def.to_string())) {
                for k in subs.keys() {
                    out.entry(k.clone())
                        .or_insert_with(|| ep.api_version.clone());
                }
            }
        }
        out.into_iter().collect()
    }

    /// Resource types with a PUT body, each with its spec files (local paths) in
    /// search order.
    pub fn resource_types(&self) -> BTreeMap<String, Vec<String>> {
        self.endpoints
            .iter()
            .map(|(rt, eps)| {
                let files = eps
                    .iter()
                    .map(|ep| self.docs[&ep.doc].local.clone())
                    .collect();
                (rt.clone(), files)
            })
            .collect()
    }

    /// Walks every schema reachable from the PUT bodies (through `$ref`, `allOf`,
    /// properties, items and discriminator subtypes) and reports the definitions reached
    /// and the `$ref`s that do not resolve.
    pub fn check_refs(&self) -> RefReport {
        let mut report = RefReport {
            reachable: BTreeSet::new(),
            unresolved: Vec::new(),
        };
        let mut seen = HashSet::new();
        for eps in self.endpoints.values() {
            for ep in eps {
                match self.docs[&ep.doc].json.pointer(&ep.schema_ptr) {
                    Some(node) => {
                        let loc = Loc {
                            doc: self.doc_key(&ep.doc),
                            node,
                            def: None,
                        };
                        self.walk_refs(loc, &mut seen, &mut report);
                    }
                    None => report.unresolved.push(format!(
                        "{}: no schema at {}",
                        self.docs[&ep.doc].local, ep.schema_ptr
                    )),
                }
            }
        }
        report.unresolved.sort();
        report.unresolved.dedup();
        report
    }

    // ----- loading -------------------------------------------------------------------

    fn find_endpoints(&self) -> BTreeMap<String, Vec<Endpoint>> {
        let mut out: BTreeMap<String, Vec<Endpoint>> = BTreeMap::new();
        for (vpath, doc) in &self.docs {
            let Some(paths) = doc.json.get("paths").and_then(Value::as_object) else {
                continue;
            };
            let api_version = doc
                .json
                .pointer("/info/version")
                .and_then(Value::as_str)
                .unwrap_or(doc.local.split('/').next().unwrap_or_default())
                .to_string();
            for (path, item) in paths {
                let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
                let n = segs.len();
                if n < 3
                    || !segs[n - 3].eq_ignore_ascii_case("Microsoft.SecurityInsights")
                    || !(segs[n - 1].starts_with('{') && segs[n - 1].ends_with('}'))
                {
                    continue;
                }
                let Some(put) = item.get("put") else { continue };
                let escaped = escape(path);
                let mut params: Vec<(&Value, String)> = Vec::new();
                for (scope, list) in [
                    (
                        format!("/paths/{escaped}/parameters"),
                        item.get("parameters"),
                    ),
                    (
                        format!("/paths/{escaped}/put/parameters"),
                        put.get("parameters"),
                    ),
                ] {
                    for (i, p) in list
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .enumerate()
                    {
                        params.push((p, format!("{scope}/{i}")));
                    }
                }
                for (param, ptr) in params {
                    // Resolve a `$ref`ed parameter; its schema pointer is then in the target.
                    let (pdoc, pnode, pptr) = match param.get("$ref").and_then(Value::as_str) {
                        Some(r) => match self.resolve(vpath, r) {
                            Ok(loc) => {
                                let frag = r.split_once('#').map(|(_, f)| f).unwrap_or("");
                                (loc.doc.to_string(), loc.node, frag.to_string())
                            }
                            Err(_) => continue,
                        },
                        None => (vpath.clone(), param, ptr),
                    };
                    if pnode.get("in").and_then(Value::as_str) == Some("body")
                        && pnode.get("schema").is_some()
                    {
                        out.entry(segs[n - 2].to_string())
                            .or_default()
                            .push(Endpoint {
                                doc: pdoc,
                                api_version: api_version.clone(),
                                preview: api_version.contains("preview"),
                                schema_ptr: format!("{pptr}/schema"),
                            });
                    }
                }
            }
        }
        for eps in out.values_mut() {
            // Stable before preview, newest api-version first.
            eps.sort_by(|a, b| {
                (a.preview, std::cmp::Reverse(&a.api_version), &a.doc).cmp(&(
                    b.preview,
                    std::cmp::Reverse(&b.api_version),
                    &b.doc,
                ))
            });
        }
        out
    }

    fn find_subtypes(&self) -> BTreeMap<(String, String), BTreeMap<String, (String, String)>> {
        let mut out: BTreeMap<(String, String), BTreeMap<String, (String, String)>> =
            BTreeMap::new();
        for (vpath, doc) in &self.docs {
            let Some(defs) = doc.json.get("definitions").and_then(Value::as_object) else {
                continue;
            };
            for (name, def) in defs {
                let value = def
                    .get("x-ms-discriminator-value")
                    .and_then(Value::as_str)
                    .unwrap_or(name);
                let mut ancestors = BTreeSet::new();
                let mut seen = HashSet::new();
                self.ancestors(vpath, def, &mut seen, &mut ancestors);
                for anc in ancestors {
                    if anc.0 == *vpath && anc.1 == *name {
                        continue;
                    }
                    out.entry(anc)
                        .or_default()
                        .entry(value.to_string())
                        .or_insert_with(|| (vpath.clone(), name.clone()));
                }
            }
        }
        out
    }

    /// Definitions that `node` extends through `allOf`, transitively.
    fn ancestors(
        &self,
        doc: &str,
        node: &Value,
        seen: &mut HashSet<usize>,
        out: &mut BTreeSet<(String, String)>,
    ) {
        if !seen.insert(node as *const Value as usize) {
            return;
        }
        for part in node
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(r) = part.get("$ref").and_then(Value::as_str) else {
                self.ancestors(doc, part, seen, out);
                continue;
            };
            if let Ok(target) = self.resolve(doc, r) {
                if let Some(def) = target.def {
                    out.insert((target.doc.to_string(), def.to_string()));
                }
                self.ancestors(target.doc, target.node, seen, out);
            }
        }
    }

    // ----- resolution ----------------------------------------------------------------

    fn doc_key(&self, vpath: &str) -> &str {
        self.docs
            .get_key_value(vpath)
            .map(|(k, _)| k.as_str())
            .unwrap_or("")
    }

    fn endpoint_base(&self, ep: &Endpoint) -> Result<Loc<'_>, String> {
        let doc = &self.docs[&ep.doc];
        let node = doc
            .json
            .pointer(&ep.schema_ptr)
            .ok_or_else(|| format!("{}: no schema at {}", doc.local, ep.schema_ptr))?;
        let loc = Loc {
            doc: self.doc_key(&ep.doc),
            node,
            def: None,
        };
        self.deref(loc).map(|(l, _, _)| l)
    }

    /// Resolves one `$ref` written in document `from`.
    fn resolve(&self, from: &str, r: &str) -> Result<Loc<'_>, String> {
        let (file, frag) = r.split_once('#').unwrap_or((r, ""));
        let target = if file.is_empty() {
            from.to_string()
        } else {
            normalize(&format!("{}/{file}", parent(from)))
        };
        let Some((key, doc)) = self.docs.get_key_value(&target) else {
            return Err(format!(
                "$ref {r} in {} points to {}, which is not in {}",
                self.local_name(from),
                local_path(&target),
                self.dir.display()
            ));
        };
        let node = if frag.is_empty() {
            Some(&doc.json)
        } else {
            doc.json.pointer(frag)
        };
        let Some(node) = node else {
            return Err(format!(
                "$ref {r} in {}: {} has nothing at {frag}",
                self.local_name(from),
                doc.local
            ));
        };
        let def = frag
            .strip_prefix("/definitions/")
            .filter(|n| !n.contains('/'))
            .and_then(|n| {
                let n = unescape(n);
                doc.json
                    .get("definitions")
                    .and_then(Value::as_object)
                    .and_then(|m| m.get_key_value(&n))
                    .map(|(k, _)| k.as_str())
            });
        Ok(Loc {
            doc: key.as_str(),
            node,
            def,
        })
    }

    /// Follows a `$ref` chain; returns the target and whether any hop was marked
    /// `readOnly` / `x-nullable` (Azure specs put these beside `$ref`).
    fn deref<'a>(&'a self, mut loc: Loc<'a>) -> Result<(Loc<'a>, bool, bool), String> {
        let mut read_only = false;
        let mut nullable = false;
        for _ in 0..MAX_REF_HOPS {
            read_only |= loc.node.get("readOnly") == Some(&Value::Bool(true));
            nullable |= loc.node.get("x-nullable") == Some(&Value::Bool(true));
            match loc.node.get("$ref").and_then(Value::as_str) {
                None => return Ok((loc, read_only, nullable)),
                Some(r) => loc = self.resolve(loc.doc, r)?,
            }
        }
        Err(format!(
            "$ref chain longer than {MAX_REF_HOPS} hops (a cycle?)"
        ))
    }

    fn local_name(&self, vpath: &str) -> String {
        self.docs
            .get(vpath)
            .map(|d| d.local.clone())
            .unwrap_or_else(|| local_path(vpath))
    }

    /// The discriminator property of a definition that declares one itself.
    fn discriminator<'a>(&self, loc: Loc<'a>) -> Option<&'a str> {
        loc.def?;
        loc.node.get("discriminator").and_then(Value::as_str)
    }

    fn subtype<'a>(&'a self, base: Loc<'a>, value: &str) -> Option<Loc<'a>> {
        self.discriminator(base)?;
        let key = (base.doc.to_string(), base.def?.to_string());
        let (sdoc, sname) = self.subtypes.get(&key)?.get(value)?;
        let (dkey, doc) = self.docs.get_key_value(sdoc)?;
        let (nkey, node) = doc
            .json
            .get("definitions")?
            .as_object()?
            .get_key_value(sname)?;
        Some(Loc {
            doc: dkey.as_str(),
            node,
            def: Some(nkey.as_str()),
        })
    }

    /// `loc` and every `allOf` part below it (resolved), most derived first.
    fn parts<'a>(
        &'a self,
        loc: Loc<'a>,
        ptr: &str,
        seen: &mut HashSet<usize>,
        out: &mut Vec<Loc<'a>>,
        errs: &mut Vec<String>,
    ) {
        if !seen.insert(loc.node as *const Value as usize) {
            return;
        }
        out.push(loc);
        for part in loc
            .node
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let part = Loc {
                doc: loc.doc,
                node: part,
                def: None,
            };
            match self.deref(part) {
                Ok((p, _, _)) => self.parts(p, ptr, seen, out, errs),
                Err(e) => errs.push(format!("{}: {e}", at(ptr))),
            }
        }
    }

    // ----- validation ----------------------------------------------------------------

    fn check<'a>(
        &'a self,
        loc: Loc<'a>,
        v: &Value,
        ptr: &str,
        dispatch: bool,
        depth: usize,
        errs: &mut Vec<String>,
    ) {
        if depth > MAX_DEPTH {
            errs.push(format!(
                "{}: nested deeper than {MAX_DEPTH} levels",
                at(ptr)
            ));
            return;
        }
        let (head, _, mut nullable) = match self.deref(loc) {
            Ok(x) => x,
            Err(e) => {
                errs.push(format!("{}: {e}", at(ptr)));
                return;
            }
        };
        if dispatch
            && let Some(prop) = self.discriminator(head)
            && let Some(value) = v.get(prop).and_then(Value::as_str)
            && let Some(sub) = self.subtype(head, value)
        {
            return self.check(sub, v, ptr, false, depth + 1, errs);
        }
        let mut parts = Vec::new();
        self.parts(head, ptr, &mut HashSet::new(), &mut parts, errs);
        nullable |= parts
            .iter()
            .any(|p| p.node.get("x-nullable") == Some(&Value::Bool(true)));

        let ty = declared_type(&parts);
        if v.is_null() {
            if !nullable && let Some(ty) = ty {
                errs.push(format!("{}: expected {ty}, found null", at(ptr)));
            }
            return;
        }
        if let Some(ty) = ty
            && !type_matches(ty, v)
        {
            errs.push(format!(
                "{}: expected {ty}, found {}",
                at(ptr),
                type_name(v)
            ));
            return;
        }
        for p in &parts {
            check_scalar_keywords(p.node, v, ptr, errs);
        }
        match v {
            Value::Object(obj) => self.check_object(&parts, obj, ptr, depth, errs),
            Value::Array(items) => {
                if let Some(schema) = parts.iter().find_map(|p| {
                    p.node.get("items").map(|node| Loc {
                        doc: p.doc,
                        node,
                        def: None,
                    })
                }) {
                    for (i, item) in items.iter().enumerate() {
                        self.check(schema, item, &format!("{ptr}/{i}"), true, depth + 1, errs);
                    }
                }
            }
            _ => {}
        }
    }

    fn check_object<'a>(
        &'a self,
        parts: &[Loc<'a>],
        obj: &serde_json::Map<String, Value>,
        ptr: &str,
        depth: usize,
        errs: &mut Vec<String>,
    ) {
        let mut props: BTreeMap<&str, Loc<'a>> = BTreeMap::new();
        let mut required: BTreeSet<&str> = BTreeSet::new();
        let mut additional: Option<Loc<'a>> = None;
        for p in parts {
            if let Some(m) = p.node.get("properties").and_then(Value::as_object) {
                for (name, node) in m {
                    props.entry(name.as_str()).or_insert(Loc {
                        doc: p.doc,
                        node,
                        def: None,
                    });
                }
            }
            for r in p
                .node
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(r) = r.as_str() {
                    required.insert(r);
                }
            }
            if additional.is_none()
                && let Some(node) = p.node.get("additionalProperties").filter(|a| a.is_object())
            {
                additional = Some(Loc {
                    doc: p.doc,
                    node,
                    def: None,
                });
            }
        }
        let read_only = |loc: Loc<'a>| self.deref(loc).map(|(_, ro, _)| ro).unwrap_or(false);
        for r in &required {
            if props.get(r).is_some_and(|l| read_only(*l)) {
                continue;
            }
            if obj.get(*r).is_none_or(Value::is_null) {
                errs.push(format!("{ptr}/{}: missing required property", escape(r)));
            }
        }
        for (k, val) in obj {
            let child = format!("{ptr}/{}", escape(k));
            if let Some(loc) = props.get(k.as_str()) {
                // A null value is "absent": reported above when required, else allowed.
                if read_only(*loc) || val.is_null() {
                    continue;
                }
                self.check(*loc, val, &child, true, depth + 1, errs);
            } else if let Some(loc) = additional {
                self.check(loc, val, &child, true, depth + 1, errs);
            }
        }
    }

    fn walk_refs<'a>(&'a self, loc: Loc<'a>, seen: &mut HashSet<usize>, report: &mut RefReport) {
        if !seen.insert(loc.node as *const Value as usize) {
            return;
        }
        if let Some(def) = loc.def {
            report
                .reachable
                .insert(format!("{}#/definitions/{def}", self.local_name(loc.doc)));
            if self.discriminator(loc).is_some()
                && let Some(subs) = self.subtypes.get(&(loc.doc.to_string(), def.to_string()))
            {
                for value in subs.keys() {
                    if let Some(sub) = self.subtype(loc, value) {
                        self.walk_refs(sub, seen, report);
                    }
                }
            }
        }
        match loc.node {
            Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                    match self.resolve(loc.doc, r) {
                        Ok(target) => self.walk_refs(target, seen, report),
                        Err(e) => report.unresolved.push(e),
                    }
                }
                for (k, node) in m {
                    if matches!(
                        k.as_str(),
                        "example" | "x-ms-examples" | "x-ms-discriminator"
                    ) {
                        continue;
                    }
                    let child = Loc {
                        doc: loc.doc,
                        node,
                        def: None,
                    };
                    self.walk_refs(child, seen, report);
                }
            }
            Value::Array(items) => {
                for node in items {
                    let child = Loc {
                        doc: loc.doc,
                        node,
                        def: None,
                    };
                    self.walk_refs(child, seen, report);
                }
            }
            _ => {}
        }
    }
}

fn check_scalar_keywords(s: &Value, v: &Value, ptr: &str, errs: &mut Vec<String>) {
    let here = at(ptr);
    if let Some(options) = s.get("enum").and_then(Value::as_array) {
        let open = s.pointer("/x-ms-enum/modelAsString") == Some(&Value::Bool(true));
        if !open && !options.contains(v) {
            let list: Vec<String> = options
                .iter()
                .map(|o| {
                    o.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| o.to_string())
                })
                .collect();
            errs.push(format!("{here}: {v} is not one of {}", list.join(", ")));
        }
    }
    if let Some(x) = v.as_f64() {
        let excl = |k: &str| s.get(k) == Some(&Value::Bool(true));
        if let Some(min) = s.get("minimum").and_then(Value::as_f64) {
            if x < min {
                errs.push(format!("{here}: {v} is less than the minimum {min}"));
            } else if x == min && excl("exclusiveMinimum") {
                errs.push(format!(
                    "{here}: {v} is not above the exclusive minimum {min}"
                ));
            }
        }
        if let Some(max) = s.get("maximum").and_then(Value::as_f64) {
            if x > max {
                errs.push(format!("{here}: {v} is greater than the maximum {max}"));
            } else if x == max && excl("exclusiveMaximum") {
                errs.push(format!(
                    "{here}: {v} is not below the exclusive maximum {max}"
                ));
            }
        }
        let integral = x.fract() == 0.0;
        let fits = match s.get("format").and_then(Value::as_str) {
            Some("int32") => Some((
                "int32",
                match v.as_i64() {
                    Some(i) => i32::try_from(i).is_ok(),
                    None => !v.is_u64() && integral && x >= i32::MIN as f64 && x <= i32::MAX as f64,
                },
            )),
            Some("int64") => Some((
                "int64",
                v.is_i64()
                    || (!v.is_u64() && integral && x >= i64::MIN as f64 && x < i64::MAX as f64),
            )),
            _ => None,
        };
        if let Some((name, false)) = fits {
            errs.push(format!("{here}: {v} is not an {name}"));
        }
    }
    if let Some(text) = v.as_str() {
        let n = text.chars().count() as u64;
        if let Some(min) = s.get("minLength").and_then(Value::as_u64)
            && n < min
        {
            errs.push(format!(
                "{here}: {n} characters, fewer than the minLength {min}"
            ));
        }
        if let Some(max) = s.get("maxLength").and_then(Value::as_u64)
            && n > max
        {
            errs.push(format!(
                "{here}: {n} characters, more than the maxLength {max}"
            ));
        }
    }
    if let Some(items) = v.as_array() {
        let n = items.len() as u64;
        if let Some(min) = s.get("minItems").and_then(Value::as_u64)
            && n < min
        {
            errs.push(format!("{here}: {n} items, fewer than the minItems {min}"));
        }
        if let Some(max) = s.get("maxItems").and_then(Value::as_u64)
            && n > max
        {
            errs.push(format!("{here}: {n} items, more than the maxItems {max}"));
        }
    }
}

fn declared_type<'a>(parts: &[Loc<'a>]) -> Option<&'a str> {
    parts
        .iter()
        .find_map(|p| p.node.get("type").and_then(Value::as_str))
        .or_else(|| {
            parts
                .iter()
                .any(|p| {
                    p.node.get("properties").is_some()
                        || p.node.get("additionalProperties").is_some()
                })
                .then_some("object")
        })
}

fn type_matches(ty: &str, v: &Value) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "number" => v.is_number(),
        "integer" => {
            v.is_i64()
                || v.is_u64()
                || v.as_f64()
                    .is_some_and(|x| x.is_finite() && x.fract() == 0.0)
        }
        _ => true,
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The pointer as shown in messages; the empty pointer (the whole body) as `(root)`.
fn at(ptr: &str) -> &str {
    if ptr.is_empty() { "(root)" } else { ptr }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn unescape(key: &str) -> String {
    key.replace("~1", "/").replace("~0", "~")
}

fn collect_json_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_json_files(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "json")
            && let Ok(rel) = path.strip_prefix(root)
        {
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(rel.join("/"));
        }
    }
}

const SI: &str = "specification/securityinsights/resource-manager";

fn is_api_version(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b[..10]
            .iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// The file's path in Azure/azure-rest-api-specs, where its relative `$ref`s make sense.
fn virtual_path(local: &str) -> String {
    let (first, rest) = local.split_once('/').unwrap_or((local, ""));
    if is_api_version(first) {
        let channel = if first.contains("preview") {
            "preview"
        } else {
            "stable"
        };
        format!("{SI}/Microsoft.SecurityInsights/{channel}/{first}/{rest}")
    } else if first == "securityinsights-common" {
        format!("{SI}/common/{rest}")
    } else if first == "common-types" {
        format!("specification/common-types/{rest}")
    } else {
        local.to_string()
    }
}

/// The inverse of [`virtual_path`], for messages about files that are not loaded.
fn local_path(vpath: &str) -> String {
    let ms = format!("{SI}/Microsoft.SecurityInsights/");
    if let Some(rest) = vpath.strip_prefix(&ms) {
        let rest = rest
            .strip_prefix("stable/")
            .or_else(|| rest.strip_prefix("preview/"))
            .unwrap_or(rest);
        rest.to_string()
    } else if let Some(rest) = vpath.strip_prefix(&format!("{SI}/common/")) {
        format!("securityinsights-common/{rest}")
    } else if let Some(rest) = vpath.strip_prefix("specification/common-types/") {
        format!("common-types/{rest}")
    } else {
        vpath.to_string()
    }
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map(|(d, _)| d).unwrap_or("")
}

fn normalize(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    out.join("/")
}
