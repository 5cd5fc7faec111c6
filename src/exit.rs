//! The exit codes: defined here and nowhere else (`docs/exit-codes.md`,
//! which a test keeps in step with [`Exit::ALL`]).
//!
//! The contract follows Terraform's `-detailed-exitcode`: 0 and 2 are both
//! success, 1 is an error, and the other codes are outcomes a pipeline
//! branches on. A usage error (an unknown or mistyped flag) is 1, never 2,
//! so that it is never read as "changes present".

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Exit {
    /// Success: nothing to do, or done.
    Ok,
    /// An error: bad flags, unreadable input, an Azure call that failed.
    Error,
    /// `plan --detailed-exitcode`: the plan has changes or manual steps;
    /// `verify`, `rehearse`: a desired state does not hold.
    Changes,
    /// `apply`: the plan is stale; `rollback`: a resource changed since apply.
    Stale,
    /// `apply`, `rehearse`: stopped before the gated phase, waiting for
    /// `--confirm tenant-connector`.
    AwaitingConfirmation,
    /// `plan --fail-on-review`: something needs a human.
    NeedsReview,
}

impl Exit {
    pub const ALL: [Exit; 6] = [
        Exit::Ok,
        Exit::Error,
        Exit::Changes,
        Exit::Stale,
        Exit::AwaitingConfirmation,
        Exit::NeedsReview,
    ];

    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Error => 1,
            Exit::Changes => 2,
            Exit::Stale => 3,
            Exit::AwaitingConfirmation => 4,
            Exit::NeedsReview => 5,
        }
    }

    /// One line, as `--help` and the docs give it.
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Ok => "success",
            Exit::Error => "error (bad flags or arguments included)",
            Exit::Changes => {
                "changes present (plan --detailed-exitcode), or the desired state does not hold (verify, rehearse)"
            }
            Exit::Stale => {
                "the plan is stale (apply), or a resource changed since apply (rollback)"
            }
            Exit::AwaitingConfirmation => {
                "stopped before phase 3, waiting for --confirm tenant-connector (apply, rehearse)"
            }
            Exit::NeedsReview => "items need review (plan --fail-on-review)",
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}

/// The `Exit codes:` paragraph of `--help`.
pub const HELP: &str = "Exit codes: 0 success; 1 error (bad flags included); 2 changes present (plan --detailed-exitcode) or the desired state does not hold (verify, rehearse); 3 the plan is stale (apply) or a resource changed since apply (rollback); 4 stopped before phase 3, waiting for --confirm tenant-connector; 5 items need review (plan --fail-on-review).";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_the_help_names_each() {
        let mut codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        codes.dedup();
        assert_eq!(codes, vec![0, 1, 2, 3, 4, 5]);
        for e in Exit::ALL {
            assert!(HELP.contains(&format!("{} ", e.code())), "{e:?}");
        }
    }
}
