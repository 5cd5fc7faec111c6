//! Parsing ARM paths and ids of the SecurityInsights subset; percent
//! coding; query strings.

/// The resource types served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum ResType {
    DataConnectors,
    AlertRules,
    AutomationRules,
    ContentPackages,
}

impl ResType {
    pub(super) fn parse(segment: &str) -> Option<ResType> {
        [
            ResType::DataConnectors,
            ResType::AlertRules,
            ResType::AutomationRules,
            ResType::ContentPackages,
        ]
        .into_iter()
        .find(|t| t.segment().eq_ignore_ascii_case(segment))
    }

    /// The path segment in its documented casing.
    pub(super) fn segment(self) -> &'static str {
        match self {
            ResType::DataConnectors => "dataConnectors",
            ResType::AlertRules => "alertRules",
            ResType::AutomationRules => "automationRules",
            ResType::ContentPackages => "contentPackages",
        }
    }

    /// The ARM `type` of the resources.
    pub(super) fn arm_type(self) -> String {
        format!("Microsoft.SecurityInsights/{}", self.segment())
    }

    /// The singular noun, for messages.
    pub(super) fn noun(self) -> &'static str {
        match self {
            ResType::DataConnectors => "data connector",
            ResType::AlertRules => "alert rule",
            ResType::AutomationRules => "automation rule",
            ResType::ContentPackages => "content package",
        }
    }
}

/// A collection or item of a workspace, with the text as received
/// (decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Route {
    pub subscription: String,
    pub resource_group: String,
    /// The `Microsoft.OperationalInsights` segment, whatever it says.
    pub namespace: String,
    pub workspace: String,
    pub ty: ResType,
    pub name: Option<String>,
}

/// The identity of a stored resource: (workspace key, type, lower-cased
/// name). Ordered so that a workspace's resources of one type are
/// contiguous and sorted by lower-cased name.
pub(super) type Key = (String, ResType, String);

impl Route {
    /// Parses decoded path segments (without the empty one before the
    /// leading slash). With `rest_is_name`, everything after the type is the
    /// name (ids: names may contain `/`); else at most one name segment.
    fn from_segments(segs: &[String], rest_is_name: bool) -> Option<Route> {
        if segs.len() < 11 {
            return None;
        }
        let keyword = |i: usize, word: &str| segs[i].eq_ignore_ascii_case(word);
        let ok = keyword(0, "subscriptions")
            && keyword(2, "resourceGroups")
            && keyword(4, "providers")
            && keyword(6, "workspaces")
            && keyword(8, "providers")
            && keyword(9, "Microsoft.SecurityInsights");
        if !ok || [1, 3, 5, 7].iter().any(|&i| segs[i].is_empty()) {
            return None;
        }
        let ty = ResType::parse(&segs[10])?;
        let name = match &segs[11..] {
            [] => None,
            rest if rest_is_name => Some(rest.join("/")),
            [one] => Some(one.clone()),
            _ => return None,
        };
        if name.as_deref() == Some("") {
            return None;
        }
        Some(Route {
            subscription: segs[1].clone(),
            resource_group: segs[3].clone(),
            namespace: segs[5].clone(),
            workspace: segs[7].clone(),
            ty,
            name,
        })
    }

    /// Parses the path of a request (no query), percent-decoding every
    /// segment. `Err(())` when a segment decodes to invalid UTF-8.
    pub fn from_path(path: &str) -> Result<Option<Route>, ()> {
        let Some(rest) = path.strip_prefix('/') else {
            return Ok(None);
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let mut segs = Vec::new();
        for raw in rest.split('/') {
            segs.push(percent_decode(raw).ok_or(())?);
        }
        Ok(Route::from_segments(&segs, false))
    }

    /// Parses a plain-text ARM id of an item (not percent-decoded).
    pub fn from_id(id: &str) -> Option<Route> {
        let rest = id.strip_prefix('/')?;
        let segs: Vec<String> = rest.split('/').map(str::to_string).collect();
        Route::from_segments(&segs, true).filter(|r| r.name.is_some())
    }

    /// The case-insensitive identity of the workspace.
    pub fn workspace_key(&self) -> String {
        format!(
            "{}/{}/{}",
            self.subscription.to_lowercase(),
            self.resource_group.to_lowercase(),
            self.workspace.to_lowercase()
        )
    }

    /// The key of the item (`None` for a collection).
    pub fn key(&self) -> Option<Key> {
        let name = self.name.as_ref()?;
        Some((self.workspace_key(), self.ty, name.to_lowercase()))
    }

    /// The canonical id of the item, with this route's casing.
    pub fn canonical_id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/{}/workspaces/{}/providers/Microsoft.SecurityInsights/{}/{}",
            self.subscription,
            self.resource_group,
            self.namespace,
            self.workspace,
            self.ty.segment(),
            self.name.as_deref().unwrap_or_default()
        )
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Decodes `%XX` sequences (a malformed `%` stays as it is). `None` when
/// the result is not UTF-8.
pub(super) fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_string());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes every byte but the unreserved ones (`A-Z a-z 0-9 - . _ ~`).
pub(super) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The decoded value of the first query parameter named `name` (compared
/// case-insensitively). In values, `+` is a space.
pub(super) fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode(k)?;
        k.eq_ignore_ascii_case(name)
            .then(|| percent_decode(&v.replace('+', " ")).unwrap_or_else(|| v.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const WS: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w/providers/Microsoft.SecurityInsights";

    #[test]
    fn paths_parse_case_insensitively_and_decode() {
        let r = Route::from_path(&format!("{WS}/alertRules/a%20b%2Fc"))
            .unwrap()
            .unwrap();
        assert_eq!(r.ty, ResType::AlertRules);
        assert_eq!(r.name.as_deref(), Some("a b/c"));
        let upper = Route::from_path(&format!("{}/ALERTRULES/X", WS.to_uppercase()))
            .unwrap()
            .unwrap();
        assert_eq!(upper.key().unwrap().0, r.key().unwrap().0);
        assert_eq!(upper.key().unwrap().2, "x");
        let coll = Route::from_path(&format!("{WS}/dataConnectors/"))
            .unwrap()
            .unwrap();
        assert_eq!(coll.name, None);
        assert_eq!(Route::from_path(&format!("{WS}/alertRules/a/b")), Ok(None));
        assert_eq!(Route::from_path(&format!("{WS}/incidents/a")), Ok(None));
        assert_eq!(Route::from_path("/subscriptions/s"), Ok(None));
        assert_eq!(Route::from_path(&format!("{WS}/alertRules/%FF")), Err(()));
    }

    #[test]
    fn ids_keep_slashes_in_names() {
        let r = Route::from_id(&format!("{WS}/alertRules/a/b")).unwrap();
        assert_eq!(r.name.as_deref(), Some("a/b"));
        assert_eq!(r.canonical_id(), format!("{WS}/alertRules/a/b"));
        assert!(Route::from_id(&format!("{WS}/alertRules")).is_none());
    }

    #[test]
    fn percent_coding_round_trips() {
        for s in ["plain", "a b", "it's/50%", "ünï", "%zz"] {
            assert_eq!(percent_decode(&percent_encode(s)).unwrap(), s);
        }
        assert_eq!(percent_decode("%zz%4").unwrap(), "%zz%4");
        assert_eq!(
            query_param("a=1&API-Version=2025-09-01&$skipToken=x%20y", "api-version").unwrap(),
            "2025-09-01"
        );
        assert_eq!(
            query_param("$skiptoken=x%20y", "$skipToken").unwrap(),
            "x y"
        );
        assert_eq!(query_param("api-version", "api-version").unwrap(), "");
        assert_eq!(query_param("x=1", "api-version"), None);
    }
}
