//! The Schulze method, from the pairwise preference counts of a ranked poll.
//!
//! `d[i][j]` is the number of ballots that rank answer `i` above answer `j` (an answer a ballot ranks is above
//! every answer it leaves unranked). These counts are kept in the store and updated with each ballot, so the
//! winner is computed from `k × k` numbers, never by re-reading the ballots. The strongest path from `i` to
//! `j` is the path of pairwise wins whose weakest link is the strongest; `i` beats `j` when the strongest path
//! from `i` to `j` is stronger than the one back. The winner is the answer no other beats — when exactly one
//! answer is unbeaten; several unbeaten answers are a tie, and a tie has no winner.

/// The strongest path strengths `p[i][j]` (Floyd–Warshall over the widest paths), using winning votes: a link
/// `i → j` exists with strength `d[i][j]` only when `d[i][j] > d[j][i]`.
pub fn strongest_paths(d: &[Vec<i64>]) -> Vec<Vec<i64>> {
    let n = d.len();
    let mut p = vec![vec![0i64; n]; n];
    for i in 0..n {
        for j in 0..n {
            if i != j && d[i][j] > d[j][i] {
                p[i][j] = d[i][j];
            }
        }
    }
    for k in 0..n {
        for i in 0..n {
            if i == k {
                continue;
            }
            for j in 0..n {
                if j == i || j == k {
                    continue;
                }
                let through = p[i][k].min(p[k][j]);
                if through > p[i][j] {
                    p[i][j] = through;
                }
            }
        }
    }
    p
}

/// The answers no other answer beats, in index order.
pub fn unbeaten(d: &[Vec<i64>]) -> Vec<usize> {
    let p = strongest_paths(d);
    let n = d.len();
    (0..n).filter(|&i| (0..n).all(|j| j == i || p[i][j] >= p[j][i])).collect()
}

/// The Schulze winner: the one unbeaten answer, or `None` on a tie (and so with no votes at all).
pub fn winner(d: &[Vec<i64>]) -> Option<usize> {
    match unbeaten(d).as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

/// Adds one ranking to a pairwise matrix `d` of `n` answers, `times` times (negative to take it away). `ranks`
/// holds `(answer index, rank)` with ranks 1..k; the answers it leaves out rank below all of those it names.
pub fn add_ranking(d: &mut [Vec<i64>], ranks: &[(usize, i64)], times: i64) {
    for (pairs_i, pairs_j, n) in pairs(d.len(), ranks) {
        d[pairs_i][pairs_j] += n * times;
    }
}

/// The pairs `(above, below, 1)` a ranking of `ranks` over `n` answers prefers.
pub fn pairs(n: usize, ranks: &[(usize, i64)]) -> Vec<(usize, usize, i64)> {
    let rank_of = |i: usize| ranks.iter().find(|(a, _)| *a == i).map(|(_, r)| *r);
    let mut out = Vec::new();
    for &(a, ra) in ranks {
        for b in 0..n {
            if b == a {
                continue;
            }
            match rank_of(b) {
                Some(rb) if rb <= ra => {}
                _ => out.push((a, b, 1)),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A profile: `(how many voters, their ranking as answer indexes, best first)`.
    fn matrix(n: usize, profile: &[(i64, &[usize])]) -> Vec<Vec<i64>> {
        let mut d = vec![vec![0; n]; n];
        for (count, order) in profile {
            let ranks: Vec<(usize, i64)> = order.iter().enumerate().map(|(r, a)| (*a, r as i64 + 1)).collect();
            add_ranking(&mut d, &ranks, *count);
        }
        d
    }

    #[test]
    fn the_classic_example_elects_e() {
        // The well-known 45-voter, five-candidate example (A..E = 0..4): Schulze elects E.
        let (a, b, c, d, e) = (0, 1, 2, 3, 4);
        let profile: &[(i64, &[usize])] = &[
            (5, &[a, c, b, e, d]),
            (5, &[a, d, e, c, b]),
            (8, &[b, e, d, a, c]),
            (3, &[c, a, b, e, d]),
            (7, &[c, a, e, b, d]),
            (2, &[c, b, a, d, e]),
            (7, &[d, c, e, b, a]),
            (8, &[e, b, a, d, c]),
        ];
        let m = matrix(5, profile);
        assert_eq!(m[a][b], 20);
        assert_eq!(m[b][a], 25);
        assert_eq!(winner(&m), Some(e));
        let p = strongest_paths(&m);
        assert_eq!(p[e][a], 25);
        assert_eq!(p[a][e], 24);
    }

    #[test]
    fn schulze_and_plurality_can_disagree() {
        // First preferences: A 4, B 3, C 2 — plurality elects A. But B beats A (5 to 4) and C (7 to 2):
        // B is the Condorcet winner, and Schulze elects it.
        let (a, b, c) = (0, 1, 2);
        let m = matrix(3, &[(4, &[a, b, c]), (3, &[b, c, a]), (2, &[c, b, a])]);
        assert_eq!(winner(&m), Some(b));
    }

    #[test]
    fn a_condorcet_cycle_is_resolved_by_the_strongest_paths() {
        // A beats B 6–3, B beats C 6–3, C beats A 5–4: a cycle. The weakest link (C over A, 5) is broken:
        // A's path to C (via B) has strength 6, C's path to A has strength 5. A wins.
        let (a, b, c) = (0, 1, 2);
        let m = matrix(3, &[(3, &[a, b, c]), (2, &[b, c, a]), (2, &[c, a, b]), (1, &[a, c, b]), (1, &[b, c, a])]);
        assert_eq!((m[a][b], m[b][a], m[b][c], m[c][b], m[c][a], m[a][c]), (6, 3, 6, 3, 5, 4));
        assert_eq!(winner(&m), Some(a));
    }

    #[test]
    fn no_votes_and_exact_ties_have_no_winner() {
        assert_eq!(winner(&[vec![0, 0], vec![0, 0]]), None);
        let (a, b) = (0, 1);
        let m = matrix(2, &[(1, &[a, b]), (1, &[b, a])]);
        assert_eq!(winner(&m), None);
        assert_eq!(unbeaten(&m), vec![a, b]);
    }

    #[test]
    fn a_partial_ranking_puts_the_named_answers_above_the_rest() {
        let mut d = vec![vec![0; 3]; 3];
        add_ranking(&mut d, &[(2, 1)], 1);
        assert_eq!(d, vec![vec![0, 0, 0], vec![0, 0, 0], vec![1, 1, 0]]);
        add_ranking(&mut d, &[(2, 1)], -1);
        assert_eq!(d, vec![vec![0; 3]; 3]);
    }
}
