//! Plain Sentinel resources, as every reader hands them on.
//!
//! Whatever the export format, a resource ends up as its ARM REST body
//! (`id`, `name`, `type`, `kind`, `etag`, `properties`) plus where it came
//! from. Unknown kinds and fields pass through untouched.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::sync::Arc;

/// The three Sentinel resource types the migration touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ResourceType {
    #[serde(rename = "dataConnectors")]
    DataConnectors,
    #[serde(rename = "alertRules")]
    AlertRules,
    #[serde(rename = "automationRules")]
    AutomationRules,
    /// Content hub packages (installed solutions): optional evidence, read
    /// when exported, never demanded of an older export.
    #[serde(rename = "contentPackages")]
    ContentPackages,
}

impl ResourceType {
    pub const ALL: [ResourceType; 4] = [
        ResourceType::DataConnectors,
        ResourceType::AlertRules,
        ResourceType::AutomationRules,
        ResourceType::ContentPackages,
    ];

    /// Whether an export without it is incomplete: contentPackages are
    /// optional evidence (older exports did not read them).
    pub fn required(self) -> bool {
        self != ResourceType::ContentPackages
    }

    /// The collection segment of the ARM id: `dataConnectors`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::DataConnectors => "dataConnectors",
            ResourceType::AlertRules => "alertRules",
            ResourceType::AutomationRules => "automationRules",
            ResourceType::ContentPackages => "contentPackages",
        }
    }

    /// The ARM `type` of a resource body.
    pub fn arm_type(self) -> &'static str {
        match self {
            ResourceType::DataConnectors => "Microsoft.SecurityInsights/dataConnectors",
            ResourceType::AlertRules => "Microsoft.SecurityInsights/alertRules",
            ResourceType::AutomationRules => "Microsoft.SecurityInsights/automationRules",
            ResourceType::ContentPackages => "Microsoft.SecurityInsights/contentPackages",
        }
    }

    /// Reads the last segment of an ARM `type` (`Microsoft.SecurityInsights/alertRules`,
    /// `Microsoft.OperationalInsights/workspaces/providers/alertRules`) or a bare
    /// collection name, case-insensitively.
    pub fn from_type(text: &str) -> Option<ResourceType> {
        let last = text.rsplit('/').next().unwrap_or(text);
        ResourceType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(last))
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A version of numbers separated by dots (`3.0.10`), compared number by
/// number (`3.0.10` is later than `3.0.3`; `3.0` equals `3.0.0`). Anything
/// else (`3.0.0-beta`, `latest`, empty) is not one: None, an unknown version.
pub fn parse_version(text: &str) -> Option<Vec<u64>> {
    let text = text.trim();
    let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
    let mut parts: Vec<u64> = text
        .split('.')
        .map(|p| {
            (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse().ok())
                .flatten()
        })
        .collect::<Option<_>>()?;
    while parts.len() > 1 && parts.last() == Some(&0) {
        parts.pop();
    }
    Some(parts)
}

const SENTINEL_PROVIDER: &str = "/providers/microsoft.securityinsights/";

/// A Log Analytics workspace, by ARM id
/// (`/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.OperationalInsights/workspaces/{ws}`).
///
/// ARM ids compare case-insensitively; the spelling first seen is kept for display.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Workspace {
    /// Shared: every resource of a workspace holds its id, and a file's
    /// resources are mostly of one ([`Workspace::from_resource_id`]).
    id: Arc<str>,
}

impl Workspace {
    /// Parses a workspace id given by the user. Returns why it is not one.
    pub fn parse(id: &str) -> Result<Workspace, String> {
        let id = id.trim().trim_end_matches('/');
        let segments: Vec<&str> = id.split('/').collect();
        let ok = segments.len() == 9
            && segments[0].is_empty()
            && segments[1].eq_ignore_ascii_case("subscriptions")
            && !segments[2].is_empty()
            && segments[3].eq_ignore_ascii_case("resourceGroups")
            && !segments[4].is_empty()
            && segments[5].eq_ignore_ascii_case("providers")
            && !segments[6].is_empty()
            && segments[7].eq_ignore_ascii_case("workspaces")
            && !segments[8].is_empty();
        if !ok {
            return Err(format!(
                "`{id}` is not a workspace id; expected /subscriptions/<subscription>/resourceGroups/<group>/providers/Microsoft.OperationalInsights/workspaces/<name>"
            ));
        }
        if let Some(bad) = segments[1..].iter().find(|s| is_dot_segment(s)) {
            return Err(format!(
                "`{id}` is not a workspace id: the segment `{bad}` would address another path (`.` and `..` are steps in a path, not names)"
            ));
        }
        if let Some(bad) = segments[1..].iter().find(|s| {
            s.chars()
                .any(|c| c.is_control() || "?#%\"'`$\\ ".contains(c))
        }) {
            return Err(format!(
                "`{id}` is not a workspace id: the segment `{bad}` holds characters an ARM id cannot have"
            ));
        }
        Ok(Workspace { id: id.into() })
    }

    /// The workspace part of a Sentinel resource id: everything before
    /// `/providers/Microsoft.SecurityInsights/`. Tolerant of the misspelt
    /// provider namespaces found in official examples.
    pub fn from_resource_id(resource_id: &str) -> Option<Workspace> {
        // The first place the provider's segments start, in any case.
        let b = resource_id.as_bytes();
        let at = memchr::memchr_iter(b'/', b).find(|&i| {
            b.get(i..i + SENTINEL_PROVIDER.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(SENTINEL_PROVIDER.as_bytes()))
        })?;
        let prefix = &resource_id[..at];
        let mut segments = prefix.split('/');
        let subscriptions = segments.nth(1).unwrap_or_default();
        let workspaces = segments.nth(5).unwrap_or_default();
        // Nine segments: the empty one before the first `/`, and eight.
        if segments.count() == 1
            && subscriptions.eq_ignore_ascii_case("subscriptions")
            && workspaces.eq_ignore_ascii_case("workspaces")
        {
            // The id of the resource read before, most often: shared.
            thread_local! {
                static LAST: std::cell::RefCell<Option<Arc<str>>> = const { std::cell::RefCell::new(None) };
            }
            let id = LAST.with_borrow_mut(|last| match last {
                Some(id) if **id == *prefix => Arc::clone(id),
                _ => Arc::clone(last.insert(prefix.into())),
            });
            Some(Workspace { id })
        } else {
            None
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key two ids are compared by.
    pub fn key(&self) -> String {
        self.id.to_ascii_lowercase()
    }

    pub fn subscription(&self) -> &str {
        self.id.split('/').nth(2).unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.id.rsplit('/').next().unwrap_or_default()
    }

    /// The ARM id of a Sentinel resource in this workspace.
    pub fn resource_id(&self, resource_type: ResourceType, name: &str) -> String {
        format!(
            "{}/providers/Microsoft.SecurityInsights/{}/{name}",
            self.id,
            resource_type.as_str()
        )
    }
}

impl PartialEq for Workspace {
    fn eq(&self, other: &Self) -> bool {
        // As their keys compare.
        self.id.eq_ignore_ascii_case(&other.id)
    }
}
impl Eq for Workspace {}

/// `.` or `..`: a step in a path, which URL parsers and the Azure CLI
/// resolve (even percent-encoded, as `%2E`), so never a name in a URL.
pub fn is_dot_segment(s: &str) -> bool {
    matches!(s, "." | "..")
}

/// Why `s` cannot be one segment of an ARM URL, if it cannot.
pub fn segment_problem(s: &str) -> Option<String> {
    if s.is_empty() {
        Some("an empty segment".into())
    } else if is_dot_segment(s) {
        Some(format!(
            "the segment `{s}` would address another path (`.` and `..` are steps in a path, not names)"
        ))
    } else {
        None
    }
}

/// The first segment of an ARM id or path that would make its URL address
/// something else (`.`, `..`), with why.
pub fn path_problem(path: &str) -> Option<String> {
    path.trim_start_matches('/')
        .split('/')
        .find(|s| is_dot_segment(s))
        .and_then(segment_problem)
}

/// Percent-encodes one URL path segment (RFC 3986 unreserved kept).
pub fn encode_segment(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The relative ARM URL of a Sentinel collection (`name` None) or resource
/// in a workspace, every segment percent-encoded, with its api-version.
/// Refused (with why) when a segment is empty, `.` or `..`: the URL would
/// address something other than the resource.
pub fn arm_path(
    workspace_id: &str,
    resource_type: ResourceType,
    name: Option<&str>,
    api_version: &str,
) -> Result<String, String> {
    let segments = workspace_id.strip_prefix('/').unwrap_or(workspace_id);
    let checked = segments.split('/').chain(name);
    if let Some(problem) = checked.clone().find_map(segment_problem) {
        return Err(format!(
            "{}{}: {problem}",
            workspace_id,
            name.map(|n| format!(" (name `{n}`)")).unwrap_or_default()
        ));
    }
    let mut url = String::new();
    for seg in segments.split('/') {
        url.push('/');
        url.push_str(&encode_segment(seg));
    }
    url.push_str("/providers/Microsoft.SecurityInsights/");
    url.push_str(resource_type.as_str());
    if let Some(n) = name {
        url.push('/');
        url.push_str(&encode_segment(n));
    }
    url.push_str("?api-version=");
    url.push_str(&encode_segment(api_version));
    Ok(url)
}

/// Where a resource (or a value in it) was read from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Origin {
    pub path: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path, self.line, self.column)
    }
}

/// The export formats the readers understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// `{"value": [...]}` as `az rest` prints a list.
    ArmList,
    /// `[...]` of resources.
    JsonArray,
    /// One resource body (`az rest` GET).
    JsonResource,
    /// A deployment template (`resources[]`).
    ArmTemplate,
    /// A deployment parameters file.
    ArmParameters,
    /// Azure-Sentinel "Detections" YAML.
    DetectionsYaml,
    /// PascalCase YAML of older as-code tools.
    PascalYaml,
    /// Automation rule written flat (`automationRuleId`, `triggeringLogic`, ...).
    FlatAutomationRule,
    /// A subscription as ARM answers `GET /subscriptions/{id}`
    /// (`subscriptionId`, `tenantId`): `export` writes one per workspace.
    ArmSubscription,
}

/// A subscription's tenant, as ARM answers `GET /subscriptions/{id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    pub subscription_id: String,
    /// Lower-cased.
    pub tenant_id: String,
    pub origin: Origin,
}

/// A value in a template resource that an ARM expression decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateValue {
    /// JSON pointer into the resource body, e.g. `/properties/productFilter`.
    pub pointer: String,
    /// The expression as written, e.g. `[parameters('productFilter')]`.
    pub expression: String,
    /// Where the expression sits in the template.
    pub at: Origin,
    /// The value used in the body, when one could be worked out.
    pub value: Option<Value>,
    /// Whether the inputs fix the value: it rests on literals and on
    /// parameters a parameters file gives, never on a `defaultValue` (a
    /// placeholder for whoever deploys the template).
    pub known: bool,
    /// The parameters file that pins it, if a parameter decides it.
    pub pinned_by: Option<Origin>,
    /// What the value rests on that the inputs do not fix (empty when known).
    pub unfixed: Vec<Unfixed>,
    /// Which parts of a string value a parameters file gives, and where.
    pub segments: Vec<Segment>,
}

/// Why a template value is not fixed by the inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unfixed {
    /// A parameter nothing gives a value: no parameters file, no `defaultValue`.
    NoValue { parameter: String },
    /// A parameter only its `defaultValue` gives: a placeholder.
    DefaultOnly { parameter: String, default: Value },
    /// A parameter the parameters file gives as a Key Vault reference:
    /// known only at deployment.
    Reference { parameter: String, at: Origin },
    /// An expression this tool does not evaluate (`newGuid()`,
    /// `reference(...)`, an undefined variable).
    Unevaluated { expression: String },
}

impl fmt::Display for Unfixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unfixed::NoValue { parameter } => write!(
                f,
                "the template parameter `{parameter}` has no value in the inputs (no parameters file gives one, and it has no defaultValue)"
            ),
            Unfixed::DefaultOnly { parameter, default } => write!(
                f,
                "only the defaultValue of the template parameter `{parameter}` gives {default}, a placeholder for whoever deploys the template"
            ),
            Unfixed::Reference { parameter, at } => write!(
                f,
                "the parameters file gives the template parameter `{parameter}` as a Key Vault reference ({at}): its value is known only at deployment"
            ),
            Unfixed::Unevaluated { expression } => {
                write!(f, "`{expression}` cannot be worked out from the inputs")
            }
        }
    }
}

/// Where a part of a string value sits: characters `start..start + len`
/// of the value are those from 1-based `line` and `column` of the decoded
/// string at `span` in `path` (a value a parameters file gives, or a
/// literal in the template's expression).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub start: usize,
    pub len: usize,
    pub line: usize,
    pub column: usize,
    pub path: String,
    pub span: TextSpan,
}

/// A text value (a KQL query) and how its characters map back to the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextSpan {
    /// A JSON string literal: its raw text between the quotes starts here.
    JsonString {
        line: usize,
        column: usize,
        raw: String,
    },
    /// A YAML block or plain scalar whose first content line is `line`,
    /// indented by `indent` columns.
    YamlBlock { line: usize, indent: usize },
    /// A JSON string literal written as `serde_json` writes its value
    /// (only the escapes JSON requires): its raw text, the value written
    /// again, is not kept (a fleet holds one query per rule). Mapped with
    /// [`TextSpan::map_in`].
    JsonValue { line: usize, column: usize },
}

impl TextSpan {
    /// The span of the JSON string literal `raw` (its text between the
    /// quotes, starting at `line`:`column`) whose value is `value`: kept
    /// whole only when it is not what `serde_json` writes for the value.
    pub fn json(line: usize, column: usize, raw: &str, value: &str) -> TextSpan {
        // Without a backslash, strict JSON's raw text is its value.
        let canonical = if raw.contains('\\') {
            serde_json::to_string(value)
                .is_ok_and(|q| q.len() == raw.len() + 2 && q[1..q.len() - 1] == *raw)
        } else {
            raw == value
        };
        if canonical {
            TextSpan::JsonValue { line, column }
        } else {
            TextSpan::JsonString {
                line,
                column,
                raw: raw.to_string(),
            }
        }
    }

    /// Maps a 1-based (line, column) inside the decoded text `value` to
    /// the file.
    pub fn map_in(&self, value: &str, line: usize, column: usize) -> (usize, usize) {
        match self {
            TextSpan::JsonValue {
                line: at_line,
                column: at_col,
            } => {
                let quoted = serde_json::to_string(value).unwrap_or_default();
                let raw = quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or("");
                TextSpan::JsonString {
                    line: *at_line,
                    column: *at_col,
                    raw: raw.to_string(),
                }
                .map(line, column)
            }
            other => other.map(line, column),
        }
    }

    /// Maps a 1-based (line, column) inside the decoded text to the file
    /// (a [`TextSpan::JsonValue`] at its start: [`TextSpan::map_in`] knows
    /// its text).
    pub fn map(&self, line: usize, column: usize) -> (usize, usize) {
        match self {
            TextSpan::YamlBlock {
                line: first,
                indent,
            } => (first + line - 1, indent + column),
            TextSpan::JsonValue { line, column } => (*line, *column),
            TextSpan::JsonString {
                line: at_line,
                column: at_col,
                raw,
            } => {
                // Walk the raw literal, counting decoded lines and columns,
                // until the wanted decoded position is reached.
                let (mut dl, mut dc) = (1usize, 1usize);
                let (mut fl, mut fc) = (*at_line, *at_col);
                let mut chars = raw.chars().peekable();
                while let Some(c) = chars.next() {
                    if dl == line && dc == column {
                        break;
                    }
                    let (decoded_newline, width) = if c == '\\' {
                        match chars.next() {
                            Some('n') => (true, 2),
                            Some('u') => {
                                for _ in 0..4 {
                                    chars.next();
                                }
                                (false, 6)
                            }
                            Some(_) => (false, 2),
                            None => (false, 1),
                        }
                    } else if c == '\n' {
                        fl += 1;
                        fc = 1;
                        dl += 1;
                        dc = 1;
                        continue;
                    } else {
                        (false, 1)
                    };
                    fc += width;
                    if decoded_newline {
                        dl += 1;
                        dc = 1;
                    } else {
                        dc += 1;
                    }
                }
                (fl, fc)
            }
        }
    }
}

/// One Sentinel resource read from an export.
#[derive(Debug, Clone)]
pub struct Resource {
    pub resource_type: ResourceType,
    /// The resource name (last segment of its ARM id).
    pub name: String,
    pub kind: Option<String>,
    pub workspace: Option<Workspace>,
    pub etag: Option<String>,
    /// The ARM REST body, keys sorted; `Value::Null` when the resource is
    /// [pruned](Resource::pruned).
    pub body: Value,
    /// What an analytics rule of a live export (the bulk of every fleet)
    /// keeps instead of its body: the properties the planner reads, and
    /// the whole body as compact JSON, parsed again by
    /// [`Resource::full_body`] only for the rules that become steps.
    pub pruned: Option<Box<Pruned>>,
    pub origin: Origin,
    pub format: Format,
    /// Values an ARM template expression decides (empty for other formats).
    pub template_values: Vec<TemplateValue>,
    /// The template resource's `condition`, when it has one.
    pub condition: Option<String>,
    /// Where the KQL query sits in the file, for evidence.
    pub query_span: Option<TextSpan>,
    /// Where some properties the planner decides on sit in the file
    /// (`productFilter`, `enabled`, ...), for evidence.
    pub places: Places,
}

/// Where some properties of a resource sit, by name or JSON pointer: a
/// few per resource, kept sorted in one small allocation (a map's node is
/// many times the size of one place, and a fleet holds one per rule).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Places(Vec<(String, Origin)>);

impl Places {
    /// Sets where `key` is (the last one set is kept).
    pub fn insert(&mut self, key: String, at: Origin) {
        match self.0.binary_search_by(|(k, _)| k.as_str().cmp(&key)) {
            Ok(i) => self.0[i].1 = at,
            Err(i) => self.0.insert(i, (key, at)),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Origin> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| &self.0[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Every place, by key, sorted; each may be moved.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&String, &mut Origin)> {
        self.0.iter_mut().map(|(k, v)| (&*k, v))
    }

    /// Gives back the room left over once every place is in.
    pub fn shrink_to_fit(&mut self) {
        self.0.shrink_to_fit();
    }
}

/// The `properties` of an analytics rule that a pruned body keeps: every
/// key the planner, the suppression of filters and the explanations read
/// of an analytics rule (and of `incidentConfiguration`, `createIncident`
/// alone: [`Resource::create_incident`]). A key read that is not here is
/// a bug (a decision on a value that was dropped): [`Resource::prop`]
/// asserts it of every analytics rule in debug builds, and
/// `tests/pruning.rs` plans every fixture both ways and compares every
/// artifact.
pub const RULE_KEYS: [&str; 7] = [
    "displayName",
    "displayNamesExcludeFilter",
    "displayNamesFilter",
    "enabled",
    "productFilter",
    "query",
    "severitiesFilter",
];

/// What a pruned analytics rule keeps of its body: a few values in one
/// small allocation (a map's node is about 630 bytes, and a fleet holds
/// three per rule read whole), and the whole body as text.
#[derive(Debug, Clone, PartialEq)]
pub struct Pruned {
    /// The body's `id`.
    pub id: Option<Value>,
    /// The [`RULE_KEYS`] of `properties` it has, in that (sorted) order.
    props: Box<[(&'static str, Value)]>,
    /// `properties.incidentConfiguration.createIncident`, when
    /// `incidentConfiguration` is an object that has it.
    create_incident: Option<Value>,
    /// The whole body as compact JSON, unless the planner, told of the
    /// rule as it was read, takes no step on it ([`Resource::keep`]).
    full: Option<Box<str>>,
    /// For a body whose text was dropped: what it was, for telling copies
    /// of the rule apart (SHA-256 of the text, first half).
    digest: Option<[u8; 16]>,
    /// Whether the planner, told of the rule as it was read, makes nothing
    /// of it ([`Keep::Nothing`]).
    settled: bool,
}

/// What of an analytics rule read pruned the plan will want, as the
/// planner tells the reader of each rule it reads
/// ([`crate::source::read_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Its whole body: the plan may take a step on it.
    Whole,
    /// Only the values kept: no step, but the planner reads them (a
    /// Defender for Cloud rule that is off, a rule exported without its
    /// query).
    Values,
    /// Nothing but that it is there: no step, and nothing in it the plan
    /// says.
    Nothing,
}

/// The first half of a SHA-256 digest.
fn half(d: impl AsRef<[u8]>) -> [u8; 16] {
    let mut half = [0; 16];
    half.copy_from_slice(&d.as_ref()[..16]);
    half
}

impl Pruned {
    /// Keeps `props` (each a [`RULE_KEYS`] key, in that order) of a body
    /// whose whole text is `full`, or is given later when None
    /// ([`Resource::keep_from`]).
    pub fn new(
        id: Option<Value>,
        props: Vec<(&'static str, Value)>,
        create_incident: Option<Value>,
        full: Option<String>,
    ) -> Pruned {
        debug_assert!(
            props.windows(2).all(|w| w[0].0 < w[1].0)
                && props.iter().all(|(k, _)| RULE_KEYS.contains(k)),
            "kept properties out of order or not kept: {props:?}"
        );
        Pruned {
            id,
            props: props.into_boxed_slice(),
            create_incident,
            full: full.map(String::into_boxed_str),
            digest: None,
            settled: false,
        }
    }

    /// What [`Pruned::new`] keeps of a whole body (read on the exact
    /// path), or None when it is not an object with `properties`.
    fn of(body: &Value) -> Option<Pruned> {
        let props = body.get("properties")?.as_object()?;
        let kept = RULE_KEYS
            .iter()
            .filter_map(|&k| props.get(k).map(|v| (k, v.clone())))
            .collect();
        let create = props
            .get("incidentConfiguration")
            .and_then(|c| c.get("createIncident"))
            .cloned();
        Some(Pruned::new(
            body.get("id").cloned(),
            kept,
            create,
            Some(body.to_string()),
        ))
    }

    /// The whole body's text, unless dropped.
    pub fn full(&self) -> Option<&str> {
        self.full.as_deref()
    }

    /// What the whole body's text was ([`Pruned::digest`]).
    fn digest(&self) -> [u8; 16] {
        use sha2::Digest;
        self.digest
            .unwrap_or_else(|| half(sha2::Sha256::digest(self.full.as_deref().unwrap_or(""))))
    }

    /// Whether two copies of a rule read pruned are the same: the same
    /// text, or the same values of the same version of the resource. For
    /// copies whose text is kept both, [`Resource::full_body`] compares
    /// them as values.
    pub fn same_as(&self, other: &Pruned, etags: (Option<&String>, Option<&String>)) -> bool {
        if self.digest() == other.digest() {
            return true;
        }
        // Spaced or ordered otherwise, or escaped otherwise: the same
        // version (ARM changes the etag on every write) with the same
        // values the planner reads is the same rule.
        matches!(etags, (Some(a), Some(b)) if a == b)
            && self.id == other.id
            && self.props == other.props
            && self.create_incident == other.create_incident
    }

    fn prop(&self, key: &str) -> Option<&Value> {
        self.props
            .binary_search_by(|(k, _)| (*k).cmp(key))
            .ok()
            .map(|i| &self.props[i].1)
    }
}

impl Resource {
    /// All of `properties`: never asked of an analytics rule, whose body
    /// may be pruned (automation rules, connectors, ... keep theirs whole).
    pub fn properties(&self) -> Option<&serde_json::Map<String, Value>> {
        debug_assert!(
            self.resource_type != ResourceType::AlertRules,
            "all the properties of the analytics rule `{}` asked for: its body may be pruned to {RULE_KEYS:?}",
            self.name
        );
        self.body.get("properties").and_then(Value::as_object)
    }

    pub fn prop(&self, key: &str) -> Option<&Value> {
        debug_assert!(
            self.resource_type != ResourceType::AlertRules || RULE_KEYS.contains(&key),
            "`properties.{key}` of the analytics rule `{}` asked for: its body may be pruned to {RULE_KEYS:?}",
            self.name
        );
        match &self.pruned {
            Some(p) => p.prop(key),
            None => self.body.get("properties").and_then(|p| p.get(key)),
        }
    }

    /// `properties.incidentConfiguration.createIncident`.
    pub fn create_incident(&self) -> Option<&Value> {
        match &self.pruned {
            Some(p) => p.create_incident.as_ref(),
            None => self
                .body
                .get("properties")
                .and_then(|p| p.get("incidentConfiguration"))
                .and_then(|c| c.get("createIncident")),
        }
    }

    /// The body's `id`.
    pub fn body_id(&self) -> Option<&Value> {
        match &self.pruned {
            Some(p) => p.id.as_ref(),
            None => self.body.get("id"),
        }
    }

    /// Whether the body is pruned ([`Resource::pruned`]).
    pub fn is_pruned(&self) -> bool {
        self.pruned.is_some()
    }

    /// The whole ARM REST body, keys sorted.
    ///
    /// # Panics
    ///
    /// When its text was dropped ([`Resource::keep`]): asked only of
    /// the rules the plan takes a step on, whose text is kept.
    pub fn full_body(&self) -> Value {
        match &self.pruned {
            None => self.body.clone(),
            Some(p) => {
                let text = p.full.as_deref().unwrap_or_else(|| {
                    panic!(
                        "the body of `{}` was dropped as the planner takes no step on it",
                        self.name
                    )
                });
                serde_json::from_str(text).expect("a body serde_json wrote reads back")
            }
        }
    }

    /// Whether two copies of a resource (read from two files) have the
    /// same body: as values, the same members in another order or spaced
    /// otherwise being the same; where a copy's text was dropped, as
    /// [`Pruned::same_as`] tells.
    pub fn same_body(&self, other: &Resource) -> bool {
        if self.has_full_body() && other.has_full_body() {
            return match (&self.pruned, &other.pruned) {
                (None, None) => self.body == other.body,
                _ => self.full_body() == other.full_body(),
            };
        }
        fn kept(r: &Resource) -> Option<std::borrow::Cow<'_, Pruned>> {
            match &r.pruned {
                Some(p) => Some(std::borrow::Cow::Borrowed(&**p)),
                None => Pruned::of(&r.body).map(std::borrow::Cow::Owned),
            }
        }
        match (kept(self), kept(other)) {
            (Some(a), Some(b)) => a.same_as(&b, (self.etag.as_ref(), other.etag.as_ref())),
            _ => false,
        }
    }

    /// Whether the whole body can be had ([`Resource::full_body`]).
    pub fn has_full_body(&self) -> bool {
        self.pruned.as_ref().is_none_or(|p| p.full.is_some())
    }

    /// Keeps of a pruned body what the plan wants ([`Keep`]): for a rule
    /// the plan takes no step on, whose body is never shown or written,
    /// its text is dropped, keeping what tells it apart from another copy.
    pub fn keep(&mut self, keep: Keep) {
        let Some(p) = self.pruned.as_mut() else {
            return;
        };
        if keep != Keep::Whole && p.full.is_some() {
            p.digest = Some(p.digest());
            p.full = None;
        }
        p.settled = keep == Keep::Nothing;
    }

    /// [`Resource::keep`] for a rule whose text was not given yet
    /// (`Pruned::new` without it): `runs` gives it, a run at a time, and is
    /// asked once; the text is built only when kept whole, and otherwise
    /// only hashed.
    pub fn keep_from(&mut self, keep: Keep, runs: impl FnOnce(&mut dyn FnMut(&[u8]))) {
        use sha2::Digest;
        if let Some(p) = self.pruned.as_mut()
            && p.full.is_none()
            && p.digest.is_none()
        {
            if keep == Keep::Whole {
                let mut text = Vec::new();
                runs(&mut |run| text.extend_from_slice(run));
                // Runs of a valid text cut where no character is split.
                p.full = Some(String::from_utf8_lossy(&text).into());
            } else {
                // Gathered, then hashed at once: SHA-256 is slow on small pieces.
                thread_local! {
                    static TEXT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
                }
                p.digest = Some(TEXT.with_borrow_mut(|text| {
                    text.clear();
                    runs(&mut |run| text.extend_from_slice(run));
                    let d = half(sha2::Sha256::digest(&text[..]));
                    text.clear();
                    text.shrink_to(1 << 16);
                    d
                }));
            }
        }
        self.keep(keep);
    }

    /// Whether the planner said, as the rule was read, that it makes
    /// nothing of it ([`Keep::Nothing`]): it need not decide it again.
    pub fn is_settled(&self) -> bool {
        self.pruned.as_ref().is_some_and(|p| p.settled)
    }

    /// Keeps only what the planner reads of an analytics rule's body
    /// ([`Pruned`]; nothing when nothing would be dropped).
    pub fn prune(&mut self) {
        if self.resource_type != ResourceType::AlertRules || self.pruned.is_some() {
            return;
        }
        let Some(props) = self.body.get("properties").and_then(Value::as_object) else {
            return;
        };
        if props.keys().all(|k| RULE_KEYS.contains(&k.as_str())) {
            return;
        }
        if let Some(p) = Pruned::of(&self.body) {
            self.pruned = Some(Box::new(p));
            self.body = Value::Null;
        }
    }

    pub fn prop_str(&self, key: &str) -> Option<&str> {
        self.prop(key).and_then(Value::as_str)
    }

    pub fn display_name(&self) -> Option<&str> {
        self.prop_str("displayName")
    }

    /// `properties.enabled` when it is a boolean.
    pub fn enabled(&self) -> Option<bool> {
        self.prop("enabled").and_then(Value::as_bool)
    }

    /// Whether the kind is `kind`, compared case-insensitively (kinds are
    /// written in many cases by hand-made exports).
    pub fn is_kind(&self, kind: &str) -> bool {
        self.kind
            .as_deref()
            .is_some_and(|k| k.eq_ignore_ascii_case(kind))
    }

    /// The full ARM id, when the workspace is known.
    pub fn resource_id(&self) -> Option<String> {
        self.workspace
            .as_ref()
            .map(|w| w.resource_id(self.resource_type, &self.name))
    }

    /// Where a property sits in the file, or else where the resource starts.
    pub fn place(&self, property: &str) -> &Origin {
        self.places.get(property).unwrap_or(&self.origin)
    }

    /// The template value at `pointer`, if an expression decides it.
    pub fn template_value(&self, pointer: &str) -> Option<&TemplateValue> {
        self.template_values.iter().find(|t| t.pointer == pointer)
    }

    /// Where a position (1-based line and column) in the query sits in the
    /// files: in the string that holds it, or, for a query a template
    /// expression builds, in the parameters file that gives that part, else
    /// at the expression.
    pub fn query_source(&self, line: usize, column: usize) -> Option<Origin> {
        let at_span = |span: &TextSpan, path: &str, line: usize, column: usize| {
            let (line, column) = span.map(line, column);
            Origin {
                path: path.to_string(),
                line,
                column,
            }
        };
        let Some(tv) = self.template_value("/properties/query") else {
            return self.query_span.as_ref().map(|span| {
                let (line, column) =
                    span.map_in(self.prop_str("query").unwrap_or(""), line, column);
                Origin {
                    path: self.origin.path.clone(),
                    line,
                    column,
                }
            });
        };
        if let Some(Value::String(query)) = &tv.value {
            let chars: Vec<char> = query.chars().collect();
            let offset = char_offset(&chars, line, column);
            if let Some(seg) = tv
                .segments
                .iter()
                .find(|s| offset >= s.start && offset < s.start + s.len)
            {
                let (mut l, mut c) = (seg.line, seg.column);
                for ch in &chars[seg.start..offset] {
                    if *ch == '\n' {
                        l += 1;
                        c = 1;
                    } else {
                        c += 1;
                    }
                }
                return Some(at_span(&seg.span, &seg.path, l, c));
            }
        }
        // A value picked out of an object parameter: where the parameter is given.
        match (&tv.pinned_by, tv.segments.is_empty()) {
            (Some(by), true) => Some(by.clone()),
            _ => Some(tv.at.clone()),
        }
    }
}

/// The character offset of a 1-based (line, column) in `chars`.
fn char_offset(chars: &[char], line: usize, column: usize) -> usize {
    let mut offset = 0;
    let mut l = 1;
    while l < line && offset < chars.len() {
        if chars[offset] == '\n' {
            l += 1;
        }
        offset += 1;
    }
    offset + column.saturating_sub(1)
}

/// One file read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    pub path: String,
    pub sha256: String,
    pub format: Option<Format>,
    pub resources: usize,
}

/// A file (or a part of one) left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

/// Everything read from the inputs.
#[derive(Debug, Default)]
pub struct Inputs {
    pub resources: Vec<Resource>,
    pub files: Vec<InputFile>,
    pub skipped: Vec<Skipped>,
    /// The resource types read, per workspace ([`Workspace::key`], `None`
    /// for resources whose files name none): a type is read when a resource
    /// of it was, or when a list named for it (`alertRules.json`, as
    /// `export` writes one) was read empty beside that workspace's files.
    /// "Read, none present" is not "not read".
    pub covered: std::collections::BTreeSet<(Option<String>, ResourceType)>,
    /// The subscriptions read (`subscription.json`), by lower-cased id.
    pub subscriptions: std::collections::BTreeMap<String, SubscriptionRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_written_as_serde_json_writes_it_maps_as_its_raw_text_would() {
        for raw in [
            "SecurityAlert",
            "SecurityAlert\\n| where ProductName == \\\"Azure Security Center\\\"\\n| take 1",
            "a\\tb\\\\c\\u0001d caf\u{e9}",
            "not canonical: \\/ \\u00e9 \\r\\n",
        ] {
            let value: String = serde_json::from_str(&format!("\"{raw}\"")).unwrap();
            let kept = TextSpan::JsonString {
                line: 7,
                column: 20,
                raw: raw.to_string(),
            };
            let span = TextSpan::json(7, 20, raw, &value);
            assert_eq!(
                matches!(span, TextSpan::JsonValue { .. }),
                !raw.starts_with("not"),
                "{raw}"
            );
            let lines = value.lines().count().max(1);
            for line in 1..=lines {
                for column in 1..12 {
                    assert_eq!(
                        span.map_in(&value, line, column),
                        kept.map(line, column),
                        "{raw} at {line}:{column}"
                    );
                }
            }
        }
    }

    #[test]
    fn versions_compare_number_by_number_and_odd_ones_are_unknown() {
        let v = |s| parse_version(s).unwrap();
        assert!(v("3.0.10") > v("3.0.3"));
        assert!(v("3.0.0") > v("2.9.99"));
        assert!(v("10.0") > v("9.1"));
        assert_eq!(v("3.0"), v("3.0.0"));
        assert_eq!(v(" v3.0.1 "), v("3.0.1"));
        for odd in ["", "latest", "3.0.0-beta", "3..0", "3.x", "-1.0", "3.0.+1"] {
            assert_eq!(parse_version(odd), None, "{odd}");
        }
    }

    #[test]
    fn workspace_from_resource_id_tolerates_typos_and_case() {
        let id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalIinsights/workspaces/ws/providers/microsoft.securityinsights/alertRules/x";
        let ws = Workspace::from_resource_id(id).unwrap();
        assert_eq!(ws.name(), "ws");
        assert_eq!(ws.subscription(), "s");
        let other = Workspace::parse(
            "/SUBSCRIPTIONS/s/resourcegroups/RG/providers/Microsoft.OperationalIinsights/workspaces/WS",
        )
        .unwrap();
        assert_eq!(ws, other);
    }

    #[test]
    fn workspace_from_resource_id_needs_the_workspace_shape_before_the_provider() {
        let ws = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w";
        for (id, want) in [
            (format!("{ws}/providers/Microsoft.SecurityInsights/alertRules/x"), Some(ws)),
            (format!("{ws}/PROVIDERS/MICROSOFT.SECURITYINSIGHTS/alertRules/x"), Some(ws)),
            // The first provider segment counts, not a later one.
            (format!("{ws}/providers/microsoft.securityinsights/x/providers/microsoft.securityinsights/y"), Some(ws)),
            (format!("{ws}/x/providers/microsoft.securityinsights/alertRules/x"), None),
            ("/subscriptions/s/resourceGroups/rg/providers/workspaces/w/providers/microsoft.securityinsights/a/x".to_string(), None),
            (format!("{ws}/providers/microsoft.securityinsightsx/alertRules/x"), None),
            (format!("{ws}/providers/microsoft.securityinsights"), None),
            ("/subscriptions/s/resourceGroups/rg/providers/p/vaults/w/providers/microsoft.securityinsights/a".to_string(), None),
            ("subscriptions/s/resourceGroups/rg/providers/p/workspaces/w/x/providers/microsoft.securityinsights/a".to_string(), None),
            ("/providers/microsoft.securityinsights/".to_string(), None),
            (String::new(), None),
        ] {
            let got = Workspace::from_resource_id(&id);
            assert_eq!(got.as_ref().map(Workspace::id), want, "{id}");
        }
    }

    #[test]
    fn workspace_parse_rejects_garbage() {
        assert!(Workspace::parse("law-contoso").is_err());
        assert!(
            Workspace::parse("/subscriptions/s/resourceGroups/r g/providers/p/workspaces/w")
                .is_err()
        );
        assert!(
            Workspace::parse("/subscriptions/s/resourceGroups/rg/providers/p/workspaces/w/x")
                .is_err()
        );
    }

    #[test]
    fn names_that_are_path_steps_are_refused() {
        for bad in [
            "/subscriptions/../resourceGroups/rg/providers/p/workspaces/w",
            "/subscriptions/s/resourceGroups/./providers/p/workspaces/w",
            "/subscriptions/s/resourceGroups/rg/providers/p/workspaces/..",
        ] {
            let e = Workspace::parse(bad).unwrap_err();
            assert!(e.contains("would address another path"), "{bad}: {e}");
        }
        let ws = "/subscriptions/s/resourceGroups/rg/providers/p/workspaces/w";
        let t = ResourceType::AlertRules;
        assert!(arm_path(ws, t, Some(".."), "v").is_err());
        assert!(arm_path(ws, t, Some("."), "v").is_err());
        assert!(arm_path(ws, t, Some(""), "v").is_err());
        assert!(arm_path("/subscriptions/s/resourceGroups/../x", t, None, "v").is_err());
        assert!(arm_path("/subscriptions//resourceGroups/rg", t, None, "v").is_err());
        assert_eq!(
            arm_path(ws, t, Some("..."), "v").unwrap(),
            format!("{ws}/providers/Microsoft.SecurityInsights/alertRules/...?api-version=v")
        );
        assert_eq!(
            arm_path(ws, t, Some("a/../b"), "v").unwrap(),
            format!(
                "{ws}/providers/Microsoft.SecurityInsights/alertRules/a%2F..%2Fb?api-version=v"
            )
        );
        assert!(path_problem("/subscriptions/s/x/../y").is_some());
        assert!(path_problem("/subscriptions/s/x/.../y").is_none());
    }

    #[test]
    fn json_span_maps_escaped_newlines() {
        let span = TextSpan::JsonString {
            line: 3,
            column: 15,
            raw: r#"SecurityAlert\n| where ProductName == \"Azure Security Center\""#.into(),
        };
        assert_eq!(span.map(1, 1), (3, 15));
        // line 2, column 9 is `ProductName` in the decoded text.
        assert_eq!(span.map(2, 9), (3, 15 + 15 + 8));
        // After an escaped quote the raw text is one column wider.
        assert_eq!(span.map(2, 25), (3, 15 + 15 + 24 + 1));
    }

    #[test]
    fn yaml_span_maps_by_indent() {
        let span = TextSpan::YamlBlock { line: 7, indent: 2 };
        assert_eq!(span.map(1, 1), (7, 3));
        assert_eq!(span.map(3, 5), (9, 7));
    }
}
