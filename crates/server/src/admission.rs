//! What every operation passes before it executes, over HTTP (POST, GET, persisted queries) and websockets
//! alike: [`admit`] measures the document once and says what it is and what it costs, or refuses it.
//!
//! 1. The bracket-depth guard ([`crate::nesting`]), before anything parses the text.
//! 2. One parse, kept in the request (`Request::set_parsed_query`), so the executor does not parse it again.
//! 3. **Expansion.** A fragment spread stands for the whole fragment, and async-graphql's validation and
//!    execution expand every spread where it stands, recursively, without yielding: 25 fragments that each
//!    spread the next one twice (`fragment F_i on Query { ...F_{i+1} ...F_{i+1} }`, 2.5 KB) expand to 2^24
//!    selections and held a worker for 12 s in release builds (44 s in debug ones), out of the request timeout's
//!    reach. So each operation's *expanded size* — every field, inline fragment and fragment spread it holds
//!    once fragments are expanded — is computed here, with each fragment's size computed once and reused
//!    (linear in the document, iterative, so neither time nor stack depends on the expansion), and an operation
//!    larger than `max_expanded` is refused with code `VALIDATION`. The bound is the cost limit
//!    (`max_complexity`): the cost of an expanded query counts each of its fields at least once, so a query
//!    this check refuses for its fields could never have passed the cost limit anyway. Chains of fragments that
//!    spread one another deeper than `max_nesting` are refused too: they nest by other means than brackets, and
//!    the engine recurses once per level of them as well.
//! 4. **Control characters.** No text input may hold a control character other than tab, line feed and
//!    carriage return (NUL included, which PostgreSQL cannot store): every string in the variables and in the
//!    document's arguments is read once, and a request holding one is refused with code `VALIDATION`, whatever
//!    field it was meant for. Fields with narrower rules (handles, e-mail addresses) check those themselves.
//! 5. **Cost in tokens** for the rate limiter: 1 per operation, plus for a mutation what each of its root
//!    fields costs ([`crate::limits::MUTATION_FIELD_COSTS`]), counted after expansion, so aliases and fragments
//!    are charged like the fields they stand for.
//!
//! A document that does not parse, or names no single operation, is not refused here: HTTP and websockets each
//! answer it as they answer executor errors; it costs one token.
//!
//! **Documents are kept.** Clients send the same few documents over and over (persisted queries name them), and
//! everything above but the variables depends only on the text and the operation name: a [`DocumentCache`]
//! keeps each admitted document, parsed, with its admission, so a repeated one is neither parsed nor measured
//! again — its variables are still checked, and the executor still validates it against the schema.

use crate::limits::mutation_field_cost;
use crate::nesting::TooDeep;
use async_graphql::parser::types::{Directive, ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::{ErrorExtensionValues, Name, Positioned, Request, Response, ServerError};
use async_graphql_value::{ConstValue, Value};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

/// Admitted documents by their text and operation name, parsed, with their admission.
pub struct DocumentCache {
    capacity: usize,
    inner: Mutex<Kept>,
}

type Entry = Arc<(ExecutableDocument, Admission)>;
/// The entries of one text, by operation name.
type ByOperation = Vec<(Option<Arc<str>>, Entry)>;

#[derive(Default)]
struct Kept {
    /// By text (looked up without copying it), then by operation name.
    entries: HashMap<Arc<str>, ByOperation>,
    /// Keys oldest first: the first to go when the cache is full.
    order: VecDeque<(Arc<str>, Option<Arc<str>>)>,
}

impl DocumentCache {
    /// Documents kept at most.
    pub const CAPACITY: usize = 512;
    /// Longer documents are not kept (ordinary client documents are a few hundred bytes to a few KB): the cache
    /// holds at most `CAPACITY × MAX_TEXT` bytes of text, and their parsed forms.
    pub const MAX_TEXT: usize = 8 * 1024;

    pub fn new(capacity: usize) -> Self {
        Self { capacity, inner: Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, query: &str, operation: Option<&str>) -> Option<Entry> {
        let kept = self.lock();
        let by_operation = kept.entries.get(query)?;
        by_operation.iter().find(|(name, _)| name.as_deref() == operation).map(|(_, entry)| entry.clone())
    }

    fn put(&self, query: &str, operation: Option<&str>, document: ExecutableDocument, admission: Admission) {
        if query.len() > Self::MAX_TEXT || self.capacity == 0 {
            return;
        }
        let mut kept = self.lock();
        if kept.entries.get(query).is_some_and(|ops| ops.iter().any(|(name, _)| name.as_deref() == operation)) {
            return;
        }
        while kept.order.len() >= self.capacity {
            let Some((text, name)) = kept.order.pop_front() else { break };
            if let Some(ops) = kept.entries.get_mut(&text) {
                ops.retain(|(n, _)| *n != name);
                if ops.is_empty() {
                    kept.entries.remove(&text);
                }
            }
        }
        let text: Arc<str> = kept.entries.get_key_value(query).map_or_else(|| Arc::from(query), |(k, _)| k.clone());
        let name: Option<Arc<str>> = operation.map(Arc::from);
        kept.order.push_back((text.clone(), name.clone()));
        kept.entries.entry(text).or_default().push((name, Arc::new((document, admission))));
    }

    /// How many documents are kept.
    pub fn len(&self) -> usize {
        self.lock().order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for DocumentCache {
    fn default() -> Self {
        Self::new(Self::CAPACITY)
    }
}

/// The limits [`admit`] holds documents to.
#[derive(Debug, Clone, Copy)]
pub struct AdmissionLimits {
    /// Deepest bracket nesting, and deepest chain of fragment spreads.
    pub max_nesting: usize,
    /// Largest expanded size of an operation (the cost limit, `max_complexity`).
    pub max_expanded: usize,
}

/// What an admitted request is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// The kind of the operation that will run, or why none can be picked (the document does not parse, or
    /// has several operations and no `operationName`, or none of that name).
    pub kind: Result<OperationType, String>,
    /// What it costs in tokens.
    pub cost: u32,
}

/// Why a document is refused before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Brackets nested too deeply ([`crate::nesting`]).
    TooDeep(TooDeep),
    /// An operation whose fragments expand beyond the limit.
    Expands { operation: String, size: u64, limit: usize },
    /// Fragment spreads chained deeper than the limit.
    SpreadsTooDeep { depth: u64, limit: usize },
    /// A control character in a text input: which one, and where (a variable, or a field's argument).
    ControlCharacter { found: char, place: String },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::TooDeep(too_deep) => too_deep.fmt(f),
            Refusal::Expands { operation, size, limit } => write!(
                f,
                "{operation} is too large once its fragments are expanded: {size} selections (fields, fragments) \
                 where at most {limit} are allowed; spread each fragment fewer times"
            ),
            Refusal::SpreadsTooDeep { depth, limit } => {
                write!(f, "fragments spread one another {depth} levels deep, where at most {limit} are allowed")
            }
            Refusal::ControlCharacter { found, place } => write!(
                f,
                "{place}: text must not contain control characters (found U+{:04X}); only tab and line breaks are \
                 allowed",
                u32::from(*found)
            ),
        }
    }
}

impl Refusal {
    /// The refusal as a GraphQL response: no data, one error with `extensions.code = VALIDATION`.
    pub fn response(&self) -> Response {
        if let Refusal::TooDeep(too_deep) = self {
            return too_deep.response();
        }
        let mut extensions = ErrorExtensionValues::default();
        extensions.set("code", "VALIDATION");
        let mut error = ServerError::new(self.to_string(), None);
        error.extensions = Some(extensions);
        Response::from_errors(vec![error])
    }
}

/// Measures `request`'s document (see the module docs), leaving the parsed document in the request; a document
/// admitted before is taken from `cache`.
pub fn admit(request: &mut Request, limits: AdmissionLimits, cache: &DocumentCache) -> Result<Admission, Refusal> {
    for (name, value) in request.variables.iter() {
        if let Some(found) = control_in_const(value) {
            return Err(Refusal::ControlCharacter { found, place: format!("variable ${name}") });
        }
    }
    if let Some(kept) = cache.get(&request.query, request.operation_name.as_deref()) {
        let (document, admission) = &*kept;
        request.set_parsed_query(document.clone());
        return Ok(admission.clone());
    }
    let admission = measure(request, limits)?;
    if admission.kind.is_ok()
        && let Ok(document) = request.parsed_query().cloned()
    {
        cache.put(&request.query, request.operation_name.as_deref(), document, admission.clone());
    }
    Ok(admission)
}

/// [`admit`] without the cache: the checks on the document's text and structure.
fn measure(request: &mut Request, limits: AdmissionLimits) -> Result<Admission, Refusal> {
    // Before anything parses it: a deep enough document overflows the parser.
    crate::nesting::check(&request.query, limits.max_nesting).map_err(Refusal::TooDeep)?;
    let operation_name = request.operation_name.clone();
    let document = match request.parsed_query() {
        Ok(document) => document,
        Err(error) => return Ok(Admission { kind: Err(error.message), cost: 1 }),
    };
    control_in_document(document)?;
    let mut sizes = Sizes::new(document);
    for (name, operation) in document.operations.iter() {
        let measured = sizes.selection_set(&operation.node.selection_set.node);
        if measured.depth > limits.max_nesting as u64 {
            return Err(Refusal::SpreadsTooDeep { depth: measured.depth, limit: limits.max_nesting });
        }
        if measured.size > limits.max_expanded as u64 {
            let operation = name.map_or_else(|| "the operation".to_owned(), |n| format!("operation {n}"));
            return Err(Refusal::Expands { operation, size: measured.size, limit: limits.max_expanded });
        }
    }
    let mut selected = document.operations.iter().filter(|(name, _)| match (&operation_name, name) {
        (Some(wanted), Some(name)) => wanted.as_str() == name.as_str(),
        (Some(_), None) => false,
        (None, _) => true,
    });
    let operation = match (selected.next(), selected.next()) {
        (Some((_, operation)), None) => operation,
        (Some(_), Some(_)) => {
            let kind = Err("the document has several operations: name one with operationName".to_owned());
            return Ok(Admission { kind, cost: 1 });
        }
        (None, _) => return Ok(Admission { kind: Err("no operation with that name".to_owned()), cost: 1 }),
    };
    let kind = operation.node.ty;
    let cost = match kind {
        OperationType::Mutation => {
            let root = sizes.selection_set(&operation.node.selection_set.node).root_cost;
            u32::try_from(root.saturating_add(1)).unwrap_or(u32::MAX)
        }
        OperationType::Query | OperationType::Subscription => 1,
    };
    Ok(Admission { kind: Ok(kind), cost })
}

/// The first control character of `text` other than tab, line feed and carriage return.
fn control_in(text: &str) -> Option<char> {
    text.chars().find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// The first control character in a string anywhere inside `value`.
fn control_in_const(value: &ConstValue) -> Option<char> {
    match value {
        ConstValue::String(text) => control_in(text),
        ConstValue::List(items) => items.iter().find_map(control_in_const),
        ConstValue::Object(fields) => fields.values().find_map(control_in_const),
        _ => None,
    }
}

fn control_in_value(value: &Value) -> Option<char> {
    match value {
        Value::String(text) => control_in(text),
        Value::List(items) => items.iter().find_map(control_in_value),
        Value::Object(fields) => fields.values().find_map(control_in_value),
        _ => None,
    }
}

/// Refuses a document with a control character in any argument (of a field or a directive) or variable
/// default, in its operations and fragments alike. Iterative over selection sets; values nest no deeper than
/// the bracket-depth guard lets them.
fn control_in_document(document: &ExecutableDocument) -> Result<(), Refusal> {
    let refuse = |found: char, place: &str| Refusal::ControlCharacter { found, place: place.to_owned() };
    let in_directives = |directives: &[Positioned<Directive>]| -> Result<(), Refusal> {
        for directive in directives {
            for (name, value) in &directive.node.arguments {
                if let Some(found) = control_in_value(&value.node) {
                    let place = format!("argument {} of @{}", name.node, directive.node.name.node);
                    return Err(refuse(found, &place));
                }
            }
        }
        Ok(())
    };
    let mut pending: Vec<&SelectionSet> = Vec::new();
    for (_, operation) in document.operations.iter() {
        for variable in &operation.node.variable_definitions {
            let default = variable.node.default_value.as_ref().map(|d| &d.node);
            if let Some(found) = default.and_then(control_in_const) {
                return Err(refuse(found, &format!("variable ${}", variable.node.name.node)));
            }
        }
        in_directives(&operation.node.directives)?;
        pending.push(&operation.node.selection_set.node);
    }
    for fragment in document.fragments.values() {
        in_directives(&fragment.node.directives)?;
        pending.push(&fragment.node.selection_set.node);
    }
    while let Some(set) = pending.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    for (name, value) in &field.node.arguments {
                        if let Some(found) = control_in_value(&value.node) {
                            let place = format!("argument {} of {}", name.node, field.node.name.node);
                            return Err(refuse(found, &place));
                        }
                    }
                    in_directives(&field.node.directives)?;
                    pending.push(&field.node.selection_set.node);
                }
                Selection::InlineFragment(inline) => {
                    in_directives(&inline.node.directives)?;
                    pending.push(&inline.node.selection_set.node);
                }
                Selection::FragmentSpread(spread) => in_directives(&spread.node.directives)?,
            }
        }
    }
    Ok(())
}

/// What a selection set (or a fragment) amounts to once its fragments are expanded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Measure {
    /// Fields, inline fragments and fragment spreads, at every level.
    size: u64,
    /// What its top-level fields cost as root fields of a mutation.
    root_cost: u64,
    /// How deeply fragment spreads chain inside it (0 without spreads).
    depth: u64,
}

/// One selection set read on its own: its selections, and the spreads it holds (with whether each is at the top
/// level, where its fields are root fields).
struct Local<'a> {
    size: u64,
    root_cost: u64,
    spreads: Vec<(&'a Name, bool)>,
}

/// Reads a selection set without expanding spreads, iteratively (its nesting is bounded, but needs no stack).
fn local(set: &SelectionSet) -> Local<'_> {
    let mut out = Local { size: 0, root_cost: 0, spreads: Vec::new() };
    let mut pending: Vec<(&SelectionSet, bool)> = vec![(set, true)];
    while let Some((set, top)) = pending.pop() {
        for item in &set.items {
            out.size += 1;
            match &item.node {
                Selection::Field(field) => {
                    if top {
                        out.root_cost += u64::from(mutation_field_cost(field.node.name.node.as_str()));
                    }
                    pending.push((&field.node.selection_set.node, false));
                }
                // The fields of an inline fragment stand where the fragment does.
                Selection::InlineFragment(inline) => pending.push((&inline.node.selection_set.node, top)),
                Selection::FragmentSpread(spread) => out.spreads.push((&spread.node.fragment_name.node, top)),
            }
        }
    }
    out
}

/// Expanded measures of a document's fragments, each computed once.
struct Sizes<'a> {
    document: &'a ExecutableDocument,
    done: HashMap<&'a Name, Measure>,
}

impl<'a> Sizes<'a> {
    fn new(document: &'a ExecutableDocument) -> Self {
        Self { document, done: HashMap::new() }
    }

    /// The expanded measure of `set`.
    fn selection_set(&mut self, set: &'a SelectionSet) -> Measure {
        let local = local(set);
        for (name, _) in &local.spreads {
            self.fragment(name);
        }
        self.combine(&local)
    }

    /// `local` with the measures of its spreads, all known: a fragment that is unknown, or part of a cycle
    /// (both invalid, and refused by validation), counts as nothing more.
    fn combine(&self, local: &Local<'a>) -> Measure {
        let mut measure = Measure { size: local.size, root_cost: local.root_cost, depth: 0 };
        for (name, top) in &local.spreads {
            let spread = self.done.get(name).copied().unwrap_or_default();
            measure.size = measure.size.saturating_add(spread.size);
            if *top {
                measure.root_cost = measure.root_cost.saturating_add(spread.root_cost);
            }
            measure.depth = measure.depth.max(spread.depth.saturating_add(1));
        }
        measure
    }

    /// Measures fragment `name` and every fragment it spreads, depth first without recursion: each fragment is
    /// measured after those it spreads, once.
    fn fragment(&mut self, name: &'a Name) {
        let document = self.document;
        let mut locals: HashMap<&'a Name, Local<'a>> = HashMap::new();
        let mut stack: Vec<(&'a Name, bool)> = vec![(name, false)];
        while let Some((name, children_done)) = stack.pop() {
            if children_done {
                if let Some(local) = locals.remove(name) {
                    let measure = self.combine(&local);
                    self.done.insert(name, measure);
                }
                continue;
            }
            if self.done.contains_key(name) || locals.contains_key(name) {
                // Measured already, or on the way (a cycle).
                continue;
            }
            let Some(fragment) = document.fragments.get(name) else { continue };
            let local = local(&fragment.node.selection_set.node);
            stack.push((name, true));
            for (spread, _) in &local.spreads {
                if !self.done.contains_key(spread) {
                    stack.push((spread, false));
                }
            }
            locals.insert(name, local);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    const LIMITS: AdmissionLimits = AdmissionLimits { max_nesting: 128, max_expanded: 50_000 };

    fn admit_query(query: &str) -> Result<Admission, Refusal> {
        admit(&mut Request::new(query), LIMITS, &DocumentCache::new(0))
    }

    fn doubling(levels: usize) -> String {
        let mut document = String::from("query Doubling { ...F0 }\n");
        for i in 0..levels {
            document.push_str(&format!("fragment F{i} on Query {{ ...F{n} ...F{n} }}\n", n = i + 1));
        }
        document.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
        document
    }

    #[test]
    fn fragments_that_spread_twice_are_measured_in_linear_time_and_refused() {
        let started = Instant::now();
        let refused = admit_query(&doubling(24)).expect_err("2^24 selections");
        assert!(started.elapsed() < Duration::from_millis(100), "took {:?}", started.elapsed());
        let Refusal::Expands { size, .. } = refused else { panic!("{refused:?}") };
        // 2^24 fields, and the spreads above them: 2 + 4 + … + 2^24, plus the root's one.
        assert_eq!(size, (1 << 24) + (1 << 25) - 2 + 1);
        assert!(refused.to_string().contains("fragments"));
        assert!(admit_query(&doubling(10)).is_ok(), "2^10 is fine");
        let huge = doubling(200);
        assert!(matches!(admit_query(&huge), Err(Refusal::SpreadsTooDeep { .. } | Refusal::Expands { .. })));
    }

    #[test]
    fn long_chains_of_fragments_are_measured_without_recursion_and_refused() {
        let mut document = String::from("{ ...F0 }\n");
        for i in 0..100_000 {
            document.push_str(&format!("fragment F{i} on Query {{ ...F{} }}\n", i + 1));
        }
        document.push_str("fragment F100000 on Query { __typename }\n");
        let mut request = Request::new(document);
        let limits = AdmissionLimits { max_nesting: 128, max_expanded: usize::MAX };
        let refused = admit(&mut request, limits, &DocumentCache::new(0)).expect_err("100,000 levels");
        assert_eq!(refused, Refusal::SpreadsTooDeep { depth: 100_001, limit: 128 });
    }

    #[test]
    fn every_operation_of_a_document_is_measured_even_one_not_selected() {
        let document = format!("query Small {{ __typename }}\n{}", doubling(20));
        let mut request = Request::new(document).operation_name("Small");
        assert!(matches!(admit(&mut request, LIMITS, &DocumentCache::new(0)), Err(Refusal::Expands { .. })));
    }

    #[test]
    fn cycles_and_unknown_fragments_are_left_to_validation() {
        let cyclic = "{ ...A } fragment A on Query { ...B __typename } fragment B on Query { ...A }";
        assert_eq!(admit_query(cyclic).map(|a| a.cost), Ok(1));
        assert_eq!(admit_query("{ ...Nowhere }").map(|a| a.cost), Ok(1));
    }

    #[test]
    fn a_mutation_costs_one_plus_its_costly_root_fields_aliases_and_fragments_included() {
        let login = r#"login(input: { login: "a", password: "b" }) { token }"#;
        let cost = |query: &str| admit_query(query).expect("admitted").cost;
        assert_eq!(cost("{ __typename }"), 1);
        assert_eq!(cost(&format!("mutation {{ {login} }}")), 11);
        assert_eq!(cost(&format!("mutation {{ a: {login} b: {login} muteUser(handle: \"x\") {{ id }} }}")), 21);
        let spread = format!(
            "mutation {{ ...F ... on Mutation {{ c: {login} }} }} fragment F on Mutation {{ a: {login} b: {login} }}"
        );
        assert_eq!(cost(&spread), 31);
        // A field named like a costly mutation deeper down is not a root field.
        assert_eq!(cost("mutation { muteUser(handle: \"x\") { login: handle } }"), 1);
        // Queries and subscriptions cost one, whatever their fields are named.
        assert_eq!(cost(&format!("query {{ {login} }}")), 1);
    }

    #[test]
    fn the_operation_is_picked_by_name_and_a_document_that_does_not_parse_costs_one() {
        let document = "query A { __typename } mutation B { login(input: {login: \"a\", password: \"b\"}) { token } }";
        let pick = |name: Option<&str>| {
            let mut request = Request::new(document);
            if let Some(name) = name {
                request = request.operation_name(name);
            }
            admit(&mut request, LIMITS, &DocumentCache::new(0)).expect("admitted")
        };
        assert_eq!(pick(Some("A")), Admission { kind: Ok(OperationType::Query), cost: 1 });
        assert_eq!(pick(Some("B")), Admission { kind: Ok(OperationType::Mutation), cost: 11 });
        assert!(pick(None).kind.is_err() && pick(Some("C")).kind.is_err());
        let broken = admit_query("{ space(").expect("left to the executor");
        assert!(broken.kind.is_err() && broken.cost == 1);
    }

    #[test]
    fn control_characters_in_any_text_input_are_refused() {
        let nul = admit_query(r#"{ searchPosts(query: "a\u0000b") { nodes { id } } }"#).expect_err("NUL in a literal");
        assert_eq!(nul, Refusal::ControlCharacter { found: '\0', place: "argument query of searchPosts".into() });
        assert!(nul.to_string().contains("U+0000"), "{nul}");
        let nested =
            r#"mutation { register(input: { handle: "a", name: "b\u0007", email: "c", password: "d" }) { token } }"#;
        assert!(matches!(admit_query(nested), Err(Refusal::ControlCharacter { found: '\u{7}', .. })));
        let in_fragment = r#"{ ...F } fragment F on Query { user(handle: "x\u001b") { id } }"#;
        assert!(matches!(admit_query(in_fragment), Err(Refusal::ControlCharacter { .. })));
        let default = r#"query($h: String = "\u0085") { user(handle: $h) { id } }"#;
        assert!(matches!(admit_query(default), Err(Refusal::ControlCharacter { found: '\u{85}', .. })));
        let variables = async_graphql::Variables::from_json(serde_json::json!({ "i": { "t": ["ok", "a\u{0}b"] } }));
        let mut request = Request::new("query($i: In) { __typename }").variables(variables);
        let refused = admit(&mut request, LIMITS, &DocumentCache::new(0)).expect_err("NUL in a variable");
        assert_eq!(refused, Refusal::ControlCharacter { found: '\0', place: "variable $i".into() });
        // Tabs and line breaks are text.
        let text = r#"mutation { addComment(input: { postId: "p", text: "one\ntwo\tthree\r" }) { id } }"#;
        assert!(admit_query(text).is_ok());
        let variables = async_graphql::Variables::from_json(serde_json::json!({ "t": "line\nbreak" }));
        assert!(
            admit(&mut Request::new("{ __typename }").variables(variables), LIMITS, &DocumentCache::new(0)).is_ok()
        );
    }

    #[test]
    fn the_parsed_document_stays_in_the_request() {
        let mut request = Request::new("{ __typename }");
        admit(&mut request, LIMITS, &DocumentCache::new(0)).expect("admitted");
        request.query = "this is not parsed again".into();
        assert!(request.parsed_query().is_ok());
    }

    #[test]
    fn an_admitted_document_is_kept_by_text_and_operation_and_its_variables_still_checked() {
        let cache = DocumentCache::new(2);
        let text = "query A { __typename } mutation B { __typename }";
        let first = admit(&mut Request::new(text).operation_name("A"), LIMITS, &cache).expect("admitted");
        assert_eq!(cache.len(), 1);
        let mut again = Request::new(text).operation_name("A");
        assert_eq!(admit(&mut again, LIMITS, &cache).expect("admitted"), first);
        assert!(again.parsed_query().is_ok(), "the kept document is handed to the executor");
        assert_eq!(cache.len(), 1, "a hit adds nothing");
        // Another operation of the same text is its own entry, with its own kind and cost.
        let b = admit(&mut Request::new(text).operation_name("B"), LIMITS, &cache).expect("admitted");
        assert_eq!(b.kind, Ok(OperationType::Mutation));
        assert_eq!(cache.len(), 2);
        // A kept document's variables are checked on every request.
        let variables = async_graphql::Variables::from_json(serde_json::json!({ "x": "a\u{0}b" }));
        let refused = admit(&mut Request::new(text).operation_name("A").variables(variables), LIMITS, &cache);
        assert!(matches!(refused, Err(Refusal::ControlCharacter { .. })), "{refused:?}");
        // Full: the oldest goes. Documents that do not run, or are refused, are not kept.
        admit(&mut Request::new("{ a: __typename }"), LIMITS, &cache).expect("admitted");
        assert_eq!(cache.len(), 2);
        admit(&mut Request::new("{ x"), LIMITS, &cache).expect("answered as a parse error");
        admit(&mut Request::new("query A { a } query A { b }"), LIMITS, &cache).expect("answered later");
        assert_eq!(cache.len(), 2);
        let mut hit = Request::new(text).operation_name("B");
        admit(&mut hit, LIMITS, &cache).expect("admitted");
        let mut evicted = Request::new(text).operation_name("A");
        admit(&mut evicted, LIMITS, &cache).expect("admitted again");
        assert_eq!(cache.len(), 2);
    }
}
