//! `--preset demo`: a small holarchy a person can read, so a fresh server has something to explore in
//! GraphiQL. A dozen people, about thirty spaces (sciences, arts, a city with its neighbourhoods, a private
//! lab and a private housing co-op, two spaces with two parents), three dozen posts with comments, likes,
//! ratings, a repost and links, and polls of every kind (one anonymous, one governance poll that passed and
//! made a space, one still open), and events past and coming with people going and interested (the coming
//! ones with their reminders queued). Everything but the text (who likes what, the random bits of ids) comes from
//! the seed; times are relative to the reference time.

use super::synth::{Pool, cast_space};
use super::world::*;
use rand::Rng;
use rand::seq::IndexedRandom;
use std::collections::HashMap;

/// (handle, name, bio).
const PEOPLE: &[(&str, &str, &str)] = &[
    ("maya", "Maya Okafor", "Geneticist in Bristol. Housing co-op member."),
    ("tomas", "Tomás Ferreira", "Jazz pianist and sound recordist."),
    ("priya", "Priya Raman", "Physicist and amateur astronomer."),
    ("jonas", "Jonas Weber", "Rust developer, open-source maintainer."),
    ("aiko", "Aiko Tanaka", "Illustrator and painter, Stokes Croft."),
    ("sam", "Sam Osei", "Community organiser in Easton."),
    ("lucia", "Lucía Moreno", "Ecologist. Grows too many tomatoes."),
    ("ben", "Ben Carter", "Teacher, cyclist, folk fiddler."),
    ("nadia", "Nadia Haddad", "Film programmer at a small cinema."),
    ("oliver", "Oliver Nguyen", "Housing co-op treasurer."),
    ("freya", "Freya Lindqvist", "Birdwatcher and bioacoustics researcher."),
    ("kwame", "Kwame Mensah", "PhD student in quantum computing."),
];

/// (handle, name, description, private, creator, parents). Parents come before their children.
type SpaceDef = (&'static str, &'static str, &'static str, bool, &'static str, &'static [&'static str]);

const SPACES: &[SpaceDef] = &[
    (
        "science",
        "Science",
        "Everything scientific: post in the most specific space that fits.",
        false,
        "priya",
        &["all"],
    ),
    ("biology", "Biology", "Life, from molecules to ecosystems.", false, "maya", &["science"]),
    ("genetics", "Genetics", "Genes, inheritance and the tools to read them.", false, "maya", &["biology"]),
    ("dna", "DNA", "The molecule itself: structure, replication, repair.", false, "maya", &["genetics"]),
    ("genetics-lab", "Genetics Lab", "Our lab's working space: bookings, drafts, data.", true, "maya", &["genetics"]),
    ("ecology", "Ecology", "How living things get along, or don't.", false, "lucia", &["biology"]),
    ("physics", "Physics", "From particles to planets.", false, "priya", &["science"]),
    ("quantum", "Quantum Physics", "Superposition, entanglement and quantum computing.", false, "kwame", &["physics"]),
    ("astronomy", "Astronomy", "Sky watching, telescopes and the universe.", false, "priya", &["science"]),
    ("arts", "Arts", "Making and enjoying art of every kind.", false, "aiko", &["all"]),
    ("music", "Music", "Playing, listening, recording.", false, "tomas", &["arts"]),
    ("jazz", "Jazz", "Standards, sessions and solos.", false, "tomas", &["music"]),
    ("folk", "Folk", "Tunes, songs and sessions.", false, "ben", &["music"]),
    ("bioacoustics", "Bioacoustics", "Animal sounds, recorded and studied.", false, "freya", &["music", "biology"]),
    ("film", "Film", "Cinema, festivals and what to watch.", false, "nadia", &["arts"]),
    ("painting", "Painting", "Oils, watercolours, murals.", false, "aiko", &["arts"]),
    ("bristol", "Bristol", "The city: news, events and neighbourhoods.", false, "sam", &["all"]),
    ("clifton", "Clifton", "Clifton and Hotwells.", false, "ben", &["bristol"]),
    ("stokes-croft", "Stokes Croft", "Art, music and independent shops.", false, "aiko", &["bristol"]),
    ("easton", "Easton", "Easton and Lawrence Hill.", false, "sam", &["bristol"]),
    ("bedminster", "Bedminster", "Bedminster and Southville.", false, "oliver", &["bristol"]),
    ("community-gardens", "Community Gardens", "Growing food together.", false, "lucia", &["easton", "ecology"]),
    // Created by a decision of Easton: the governance poll that proposed it passed (see `polls`).
    ("easton-repair-cafe", "Easton Repair Café", "Bring it broken, leave with it fixed.", false, "sam", &["easton"]),
    (
        "bristol-housing-coop",
        "Bristol Housing Co-op",
        "Members only: meetings, money, maintenance.",
        true,
        "oliver",
        &["bristol"],
    ),
    (
        "coop-repairs",
        "Repairs and Maintenance",
        "What's broken and who is fixing it.",
        false,
        "oliver",
        &["bristol-housing-coop"],
    ),
    ("technology", "Technology", "Software, hardware and how we use them.", false, "jonas", &["all"]),
    ("open-source", "Open Source", "Building software in the open.", false, "jonas", &["technology"]),
    ("rust", "Rust", "The Rust programming language.", false, "jonas", &["open-source"]),
    ("cooperatives", "Cooperatives", "Owned and run by their members.", false, "oliver", &["all"]),
    (
        "weco",
        "Weco",
        "Building Weco together: governance, roadmap, feedback.",
        false,
        "jonas",
        &["cooperatives", "open-source"],
    ),
];

/// Members of the private spaces besides their creators.
const MEMBERS: &[(&str, &[&str])] =
    &[("genetics-lab", &["lucia", "freya"]), ("bristol-housing-coop", &["sam", "maya", "ben"])];

/// (spaces, author, days ago, title, text, url, likes).
type PostDef = (
    &'static [&'static str],
    &'static str,
    f64,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    usize,
);

const POSTS: &[PostDef] = &[
    (
        &["dna"],
        "maya",
        2.1,
        Some("Why does DNA replication almost never make mistakes?"),
        Some(
            "Polymerases make roughly one error per hundred thousand bases, yet the final error rate is closer to one in a billion. Proofreading and mismatch repair do the rest. I put together a short explainer for our reading group; corrections welcome.",
        ),
        None,
        9,
    ),
    (
        &["genetics", "ecology"],
        "lucia",
        5.0,
        Some("Environmental DNA is changing how we survey rivers"),
        Some(
            "Filter a litre of river water, sequence what is in it, and you can tell which fish live upstream without catching a single one. We compared eDNA surveys with netting on three Bristol rivers: eDNA found every species the nets did, plus two more.",
        ),
        None,
        8,
    ),
    (
        &["genetics"],
        "maya",
        12.0,
        Some("Reading group: 'The Gene', chapters 4 to 6"),
        Some("We meet on Thursday at 7pm in the library café. Bring questions; no need to have finished the chapters."),
        None,
        3,
    ),
    (
        &["genetics-lab"],
        "maya",
        1.5,
        Some("Sequencer booking for next week"),
        Some(
            "The sequencer is free on Tuesday and Wednesday. Lucía, do you still need a run for the soil samples? Please add your slot to the shared sheet.",
        ),
        None,
        2,
    ),
    (
        &["genetics-lab"],
        "freya",
        3.0,
        Some("Draft: grant application for the bird song project"),
        Some(
            "The first draft of the methods section is up. The main open question: do we sample feathers, or rely on recordings only?",
        ),
        None,
        2,
    ),
    (
        &["ecology"],
        "lucia",
        8.0,
        Some("Swifts are back over the harbour"),
        Some(
            "Counted forty swifts over the harbour last night, two weeks earlier than last year. If you have a swift box, now is the time to check it.",
        ),
        None,
        7,
    ),
    (
        &["community-gardens"],
        "lucia",
        0.5,
        Some("Seed swap this Saturday at the Easton garden"),
        Some(
            "Bring seeds, cuttings or just yourself. We will have tomato, bean and squash varieties that did well on our clay soil. 10am to 1pm, tea provided.",
        ),
        None,
        6,
    ),
    (
        &["community-gardens"],
        "sam",
        20.0,
        Some("Volunteers needed for the new raised beds"),
        Some(
            "The council delivered timber for six raised beds. We need about ten people for two Sundays. No experience needed, tools provided.",
        ),
        None,
        5,
    ),
    (
        &["quantum"],
        "kwame",
        4.0,
        Some("A gentle introduction to quantum error correction"),
        Some(
            "Qubits are fragile: any interaction with the environment scrambles them. Error correction spreads one logical qubit across many physical ones, so errors can be found and fixed without measuring the state itself. Here is the intuition, with the three-qubit bit-flip code.",
        ),
        Some("https://example.org/quantum-error-correction"),
        10,
    ),
    (
        &["physics"],
        "priya",
        15.0,
        Some("What is the most counter-intuitive result you learned as a student?"),
        Some(
            "Mine: a spinning top does not fall over because of precession, and the mathematics is far stranger than the toy.",
        ),
        None,
        4,
    ),
    (
        &["astronomy"],
        "priya",
        1.0,
        Some("Clear skies tonight: Jupiter and Saturn low in the south-east"),
        Some(
            "If the forecast holds, both planets will be visible from about 10pm. Four of Jupiter's moons show up in ordinary binoculars held steady.",
        ),
        None,
        8,
    ),
    (
        &["astronomy"],
        "kwame",
        30.0,
        Some("Beginner telescope recommendations?"),
        Some("Budget around 300. I mostly want to look at the planets and the Moon from a city balcony."),
        None,
        3,
    ),
    (
        &["jazz"],
        "tomas",
        3.0,
        Some("Jam session at the Old Duke, Thursdays"),
        Some(
            "House trio from 8pm; bring your instrument and sign up at the bar. Standards mostly, but originals are welcome.",
        ),
        None,
        6,
    ),
    (
        &["jazz"],
        "tomas",
        25.0,
        Some("Transcribing solos: by ear or with software?"),
        Some(
            "I have always transcribed by ear, slowly. Lately I slow recordings down in software, and it is a different experience. Which do you prefer, and why?",
        ),
        None,
        2,
    ),
    (
        &["folk"],
        "ben",
        6.0,
        Some("Session tunes for beginners"),
        Some("Twenty tunes that come up at almost every session in Bristol, with links to recordings."),
        Some("https://example.org/session-tunes"),
        5,
    ),
    (
        &["bioacoustics"],
        "freya",
        2.0,
        Some("Recording the dawn chorus in Leigh Woods"),
        Some(
            "Set up three recorders at 4am. Blackcaps, wrens, and a song thrush that would not stop. Spectrograms in the comments.",
        ),
        None,
        7,
    ),
    (
        &["bioacoustics", "ecology"],
        "freya",
        18.0,
        Some("Can we identify individual birds by their song?"),
        Some(
            "For some species, yes: chiffchaffs and great tits have individual signatures. We are testing whether a small model can tell apart the blackbirds in one park.",
        ),
        None,
        6,
    ),
    (
        &["film"],
        "nadia",
        5.0,
        Some("Our autumn programme: films about work"),
        Some("Six films over six weeks, from Modern Times to Sorry We Missed You. Tickets are pay-what-you-can."),
        None,
        4,
    ),
    (&["film"], "nadia", 40.0, Some("Which film changed how you see your city?"), None, None, 3),
    (
        &["painting"],
        "aiko",
        7.0,
        Some("Painting outdoors in winter: tips?"),
        Some("My watercolours freeze and my fingers stop working after an hour. How do plein-air painters manage?"),
        None,
        3,
    ),
    (
        &["arts"],
        "aiko",
        0.3,
        Some("Open studios weekend: a map of the artists"),
        Some(
            "Over two hundred studios are open this weekend. I made a map of the ones within walking distance of Stokes Croft.",
        ),
        Some("https://example.com/open-studios-map"),
        5,
    ),
    (
        &["stokes-croft"],
        "aiko",
        9.0,
        Some("New mural on Jamaica Street"),
        Some("The wall by the bike shop has a new mural: a huge heron over the harbour. Worth a detour."),
        None,
        9,
    ),
    (
        &["clifton"],
        "ben",
        11.0,
        Some("Suspension bridge closed to cars for repairs"),
        Some("Pedestrians and cyclists can still cross. Buses are diverted via the Cumberland Basin."),
        None,
        4,
    ),
    (
        &["easton"],
        "sam",
        1.2,
        Some("Street party on Saturday: road closure confirmed"),
        Some(
            "The council confirmed the closure from 11am to 7pm. We need people for the food table, and someone with a sound system.",
        ),
        None,
        8,
    ),
    (
        &["bedminster", "easton"],
        "oliver",
        14.0,
        Some("Bike repair café, first Sunday of every month"),
        Some("Bring your bike and we will help you fix it. Spare parts at cost; tea and cake by donation."),
        None,
        6,
    ),
    (
        &["bristol"],
        "sam",
        22.0,
        Some("Bristol mutual aid directory, updated"),
        Some(
            "We updated the list of food banks, community fridges and repair cafés. If anything is missing, reply here.",
        ),
        Some("https://example.org/bristol-mutual-aid"),
        7,
    ),
    (
        &["bristol-housing-coop"],
        "oliver",
        2.5,
        Some("Agenda for the general meeting"),
        Some(
            "1. Rent review. 2. Boiler replacement quotes. 3. New member applications. 4. Any other business. Proposals by Friday, please.",
        ),
        None,
        3,
    ),
    (
        &["coop-repairs"],
        "ben",
        6.0,
        Some("The back gate lock is broken again"),
        Some(
            "I have put a temporary padlock on it; the code is in the members' handbook. Does anyone know a locksmith who is not expensive?",
        ),
        None,
        2,
    ),
    (
        &["rust"],
        "jonas",
        1.8,
        Some("Bulk loading PostgreSQL from Rust with COPY"),
        Some(
            "COPY FROM STDIN is an order of magnitude faster than batched INSERTs. With sqlx you get copy_in_raw on a connection: stream rows in text format, and drop secondary indexes while loading.",
        ),
        None,
        7,
    ),
    (
        &["rust"],
        "jonas",
        19.0,
        Some("Async functions in traits are finally pleasant"),
        Some(
            "Native async fn in traits covers most of what we used the async-trait crate for. Object safety still needs care.",
        ),
        None,
        4,
    ),
    (
        &["open-source"],
        "jonas",
        10.0,
        Some("How do you fund a small open-source project?"),
        Some("Donations, grants, a cooperative of users? We have tried the first two, with mixed results."),
        None,
        5,
    ),
    (
        &["weco", "cooperatives"],
        "jonas",
        0.8,
        Some("Weco roadmap: what should we build next?"),
        Some(
            "Candidates: polls with weighted votes, invite links for private spaces, and a map of the holarchy. Reply with your priorities; we will run a poll next week.",
        ),
        None,
        11,
    ),
    (
        &["weco"],
        "oliver",
        3.5,
        Some("Proposal: members confirm the moderators of top-level spaces"),
        Some(
            "Moderators of top-level spaces shape what thousands of people see. I propose that cooperative members confirm them by vote every year.",
        ),
        None,
        6,
    ),
    (
        &["cooperatives"],
        "oliver",
        26.0,
        Some("What makes a housing co-op work?"),
        Some("After eight years in ours: clear meeting rules, a maintenance fund, and sharing the boring jobs fairly."),
        None,
        5,
    ),
    (
        &["technology", "quantum"],
        "kwame",
        13.0,
        Some("Are quantum computers useful yet?"),
        Some("Short answer: not for most problems. Long answer in the thread."),
        None,
        4,
    ),
    (
        &["science"],
        "priya",
        35.0,
        Some("Welcome to Science! Read this first"),
        Some(
            "This space collects everything from the spaces inside it: Biology, Physics, Astronomy and more. Post in the most specific space that fits; it will show up here too.",
        ),
        None,
        6,
    ),
];

/// (post index, reply to (index among this post's comments), author, hours after the post, text).
const COMMENTS: &[(usize, Option<u32>, &str, f64, &str)] = &[
    (0, None, "lucia", 3.0, "Great explainer. Could you add a diagram of mismatch repair?"),
    (0, Some(0), "maya", 5.0, "Good idea, I will draw one this weekend."),
    (0, None, "kwame", 24.0, "Is the error rate the same in mitochondria?"),
    (0, Some(2), "maya", 29.0, "No: mitochondrial DNA mutates much faster. Different polymerase, and less repair."),
    (6, None, "ben", 2.0, "Will there be any chilli varieties?"),
    (6, Some(0), "lucia", 3.0, "Yes, three! Including one that survived last winter outdoors."),
    (8, None, "priya", 6.0, "Lovely write-up. The surface code next?"),
    (8, Some(0), "kwame", 8.0, "That is the plan for part two."),
    (10, None, "kwame", 12.0, "Saw both! Even caught the Great Red Spot."),
    (12, None, "ben", 4.0, "I will bring the fiddle, if jazz fiddle is allowed."),
    (12, Some(0), "tomas", 5.0, "Always allowed."),
    (15, None, "lucia", 6.0, "That song thrush! Beautiful."),
    (21, None, "nadia", 20.0, "Walked past today, it is stunning."),
    (23, None, "oliver", 1.0, "I can bring a sound system."),
    (23, Some(0), "sam", 2.0, "Perfect, thank you!"),
    (23, None, "maya", 3.0, "I will help at the food table."),
    (26, None, "sam", 4.0, "Can we add the garden shed to any other business?"),
    (26, Some(0), "oliver", 6.0, "Added."),
    (31, None, "maya", 2.0, "Invite links, please: our lab space needs them."),
    (31, None, "oliver", 3.0, "Weighted polls, for the housing co-op."),
    (31, Some(0), "jonas", 4.0, "Noted: that is the most requested so far."),
    (31, None, "priya", 6.0, "A map of the holarchy would be amazing for newcomers."),
];

/// (post, post, description).
const LINKS: &[(usize, usize, &str)] =
    &[(1, 5, "Related"), (28, 31, "Background reading"), (8, 34, "See also"), (15, 16, "Follow-up")];

/// (post, space, days after the post).
const REPOSTS: &[(usize, &str, f64)] = &[(21, "painting", 1.0)];

/// The demo's polls: one of each type, an anonymous one, a governance poll that passed (its child space,
/// `easton-repair-cafe`, exists and its decision is logged) and one still open.
fn polls(
    rng: &mut impl Rng,
    now: Secs,
    community: &Community,
    user: &HashMap<&str, u32>,
    space: &HashMap<&str, u32>,
) -> Vec<Post> {
    use weco_domain::polls::governance::GovernanceActionKind;
    use weco_domain::polls::{PollType, ResultsVisibility};
    type Ballots = Vec<(&'static str, Vec<(usize, Option<i64>)>, Option<&'static str>)>;
    /// (space, author, days ago, title, type, visibility, anonymous, answers, ballots).
    type PollDef =
        (&'static str, &'static str, f64, &'static str, PollType, ResultsVisibility, bool, Vec<&'static str>, Ballots);
    let plain: Vec<PollDef> = vec![
        (
            "easton",
            "sam",
            6.0,
            "Which evening suits the street meeting?",
            PollType::Single,
            ResultsVisibility::Always,
            false,
            vec!["Tuesday", "Wednesday", "Thursday"],
            vec![
                ("sam", vec![(1, None)], Some("After the market closes")),
                ("ben", vec![(1, None)], None),
                ("lucia", vec![(2, None)], Some("Wednesdays I teach")),
                ("oliver", vec![(0, None)], None),
            ],
        ),
        (
            "film",
            "nadia",
            4.0,
            "Films for the summer rooftop series",
            PollType::Multiple,
            ResultsVisibility::AfterVote,
            false,
            vec!["Paris, Texas", "Spirited Away", "Stop Making Sense", "Portrait of a Lady on Fire"],
            vec![
                ("nadia", vec![(0, None), (2, None)], None),
                ("aiko", vec![(1, None), (3, None)], Some("Something animated, please")),
                ("tomas", vec![(2, None)], Some("A concert film on a roof!")),
            ],
        ),
        (
            "weco",
            "jonas",
            9.0,
            "How should we spend this year's surplus?",
            PollType::Weighted,
            ResultsVisibility::Always,
            false,
            vec!["Servers and hosting", "Accessibility audit", "Member grants"],
            vec![
                ("jonas", vec![(0, Some(50)), (1, Some(30)), (2, Some(20))], Some("Uptime first")),
                ("oliver", vec![(2, Some(100))], Some("Money to members")),
                ("kwame", vec![(1, Some(60)), (2, Some(40))], None),
            ],
        ),
        (
            "weco",
            "jonas",
            3.0,
            "Which feature next? Rank the ones you care about",
            PollType::Ranked,
            ResultsVisibility::Always,
            true,
            vec!["Events", "Chat", "Notifications", "Open data"],
            vec![
                ("jonas", vec![(2, Some(1)), (1, Some(2)), (0, Some(3))], None),
                ("priya", vec![(3, Some(1)), (2, Some(2))], None),
                ("sam", vec![(0, Some(1)), (2, Some(2)), (1, Some(3))], None),
                ("maya", vec![(2, Some(1)), (3, Some(2))], None),
                ("ben", vec![(1, Some(1)), (0, Some(2)), (2, Some(3))], None),
            ],
        ),
    ];
    let mut posts = Vec::new();
    let post =
        |rng: &mut dyn rand::RngCore, target: &str, author: &str, created: Secs, title: &str, mut poll: SeedPoll| {
            poll.answer_ids = poll.answers.iter().map(|_| uuid_v7(&mut &mut *rng, created)).collect();
            poll.ballot_ids = poll.ballots.iter().map(|(_, _, _, at)| uuid_v7(&mut &mut *rng, *at)).collect();
            Post {
                id: uuid_v7(&mut &mut *rng, created),
                creator: user[author],
                title: Some(title.into()),
                text: None,
                url: None,
                created,
                spaces: vec![space[target]],
                reposts: Vec::new(),
                likes: Vec::new(),
                ratings: Vec::new(),
                comments: Vec::new(),
                links: 0,
                poll: Some(poll),
                event: None,
            }
        };
    let salt = |rng: &mut dyn rand::RngCore| format!("{:032x}", rng.random::<u128>());
    for (target, author, days, title, kind, visibility, anonymous, answers, ballots) in plain {
        let created = ago(now, days);
        let ballots = ballots
            .into_iter()
            .enumerate()
            .map(|(i, (who, entries, reason))| (user[who], entries, reason, created + 3600 * (i as Secs + 1)))
            .collect();
        let poll = SeedPoll {
            kind,
            visibility,
            anonymous,
            answers,
            ballots,
            closed: None,
            governance: None,
            salt: salt(rng),
            answer_ids: Vec::new(),
            ballot_ids: Vec::new(),
        };
        posts.push(post(rng, target, author, created, title, poll));
    }
    // Passed: Easton decided to start a repair café; the new space was made when the poll closed.
    let cafe = community.spaces.iter().position(|s| s.handle == "easton-repair-cafe").unwrap_or_default();
    let decided = community.spaces[cafe].created;
    let created = decided - 7 * DAY;
    let ballots = ["sam", "ben", "lucia", "oliver"]
        .iter()
        .enumerate()
        .map(|(i, who)| (user[who], vec![(usize::from(*who == "oliver"), None)], None, created + DAY * (i as Secs + 1)))
        .collect();
    let poll = SeedPoll {
        kind: PollType::Single,
        visibility: ResultsVisibility::Always,
        anonymous: false,
        answers: vec!["Yes: start Easton Repair Café", "Not now"],
        ballots,
        closed: Some(decided),
        governance: Some(SeedGovernance {
            space: space["easton"],
            quorum: 3,
            threshold: 50,
            answer: 0,
            action: GovernanceActionKind::CreateChildSpace,
            handle: Some("easton-repair-cafe"),
            name: Some("Easton Repair Café"),
            user: None,
            decided: Some((uuid_v7(rng, decided), decided)),
        }),
        salt: salt(rng),
        answer_ids: Vec::new(),
        ballot_ids: Vec::new(),
    };
    posts.push(post(rng, "easton", "sam", created, "Should Easton start a repair café?", poll));
    // Still open: Weco's members decide whether Maya moderates with them.
    let created = ago(now, 2.0);
    let poll = SeedPoll {
        kind: PollType::Single,
        visibility: ResultsVisibility::AfterVote,
        anonymous: false,
        answers: vec!["Yes, add Maya as a moderator", "No"],
        ballots: vec![(user["jonas"], vec![(0, None)], Some("She reviews everything anyway"), created + 3600)],
        closed: None,
        governance: Some(SeedGovernance {
            space: space["weco"],
            quorum: 3,
            threshold: 60,
            answer: 0,
            action: GovernanceActionKind::AddModerator,
            handle: None,
            name: None,
            user: Some(user["maya"]),
            decided: None,
        }),
        salt: salt(rng),
        answer_ids: Vec::new(),
        ballot_ids: Vec::new(),
    };
    posts.push(post(rng, "weco", "jonas", created, "Should Maya moderate Weco?", poll));
    posts
}

/// The demo's events, past and coming, with who answered: (space, creator, posted days ago, starts in days
/// (negative: past), hours long, title, text, location, going, interested).
type EventDef = (
    &'static str,
    &'static str,
    f64,
    f64,
    f64,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

const EVENTS: &[EventDef] = &[
    (
        "easton",
        "sam",
        6.0,
        4.0,
        3.0,
        "Repair café: bring your broken toaster",
        "Volunteers fix small appliances, bikes and clothes. Free, donations welcome.",
        "Easton Community Centre",
        &["oliver", "lucia", "ben"],
        &["aiko", "nadia"],
    ),
    (
        "weco",
        "jonas",
        3.0,
        10.0,
        1.0,
        "Weco community call",
        "What we built this month and what comes next. Everyone welcome.",
        "Online",
        &["maya", "oliver"],
        &["priya", "kwame", "freya"],
    ),
    (
        "stokes-croft",
        "aiko",
        20.0,
        -5.0,
        4.0,
        "Open studios on Jamaica Street",
        "Twelve studios open their doors for the afternoon.",
        "Jamaica Street Studios",
        &["ben", "nadia", "sam"],
        &["lucia"],
    ),
    (
        "bristol",
        "ben",
        2.0,
        0.5,
        2.5,
        "Folk session at the Old Duke",
        "Bring an instrument or just your voice.",
        "The Old Duke, King Street",
        &["sam"],
        &["freya", "aiko"],
    ),
];

fn events(rng: &mut impl rand::Rng, now: Secs, user: &HashMap<&str, u32>, space: &HashMap<&str, u32>) -> Vec<Post> {
    let mut posts = Vec::new();
    for &(target, author, days, starts_in, hours, title, text, location, going, interested) in EVENTS {
        let created = ago(now, days);
        let starts = now + (starts_in * DAY as f64) as Secs;
        // Everyone answered some time between the post and the start (or now).
        let answered = |i: usize| created + ((now.min(starts) - created).max(1) * (i as Secs + 1)) / 8;
        let answers = |handles: &[&str], offset: usize| -> Vec<(u32, Secs)> {
            handles.iter().enumerate().map(|(i, h)| (user[h], answered(i + offset))).collect()
        };
        posts.push(Post {
            id: uuid_v7(rng, created),
            creator: user[author],
            title: Some(title.into()),
            text: Some(text.into()),
            url: None,
            created,
            spaces: vec![space[target]],
            reposts: Vec::new(),
            likes: Vec::new(),
            ratings: Vec::new(),
            comments: Vec::new(),
            links: 0,
            poll: None,
            event: Some(SeedEvent {
                starts,
                ends: Some(starts + (hours * 3600.0) as Secs),
                location: Some(location),
                going: answers(going, 0),
                interested: answers(interested, going.len()),
                coming: starts > now,
            }),
        });
    }
    posts
}

fn ago(now: Secs, days: f64) -> Secs {
    now - (days * DAY as f64) as Secs
}

/// The demo community, posts and links.
pub(crate) fn build(seed: u64, now: Secs) -> (Community, Vec<Post>, Vec<Link>) {
    let mut rng = stream(seed, 7);
    let users: Vec<User> = PEOPLE
        .iter()
        .enumerate()
        .map(|(i, (handle, name, bio))| {
            let joined = ago(now, 400.0 - 5.0 * i as f64);
            User {
                id: uuid_v7(&mut rng, joined),
                handle: (*handle).into(),
                name: (*name).into(),
                email: format!("{handle}@example.org"),
                bio: Some((*bio).into()),
                joined,
            }
        })
        .collect();
    let user: HashMap<&str, u32> = PEOPLE.iter().enumerate().map(|(i, p)| (p.0, i as u32)).collect();
    let mut space: HashMap<&str, u32> = HashMap::from([("all", 0)]);

    let mut spaces = vec![Community::root()];
    let (mut moderators, mut members, mut followers) = (Vec::new(), Vec::new(), Vec::new());
    for (i, (handle, name, description, private, creator, parents)) in SPACES.iter().enumerate() {
        let id = spaces.len() as u32;
        let created = ago(now, 300.0 - 2.0 * i as f64);
        let creator = user[creator];
        spaces.push(Space {
            id: uuid_v7(&mut rng, created),
            handle: (*handle).into(),
            name: (*name).into(),
            description: (*description).into(),
            private: *private,
            creator: Some(creator),
            created,
            parents: parents.iter().map(|p| (space[p], created)).collect(),
        });
        space.insert(handle, id);
        for roles in [&mut moderators, &mut members, &mut followers] {
            roles.push(Role { space: id, user: creator, at: created });
        }
    }
    for (handle, who) in MEMBERS {
        let s = space[handle];
        for name in *who {
            members.push(Role { space: s, user: user[name], at: spaces[s as usize].created + DAY });
        }
    }
    let mut community = Community {
        users,
        spaces,
        moderators,
        members,
        followers,
        mutes: Vec::new(),
        user_follows: Vec::new(),
        notices: Vec::new(),
    };
    follow_people(&mut rng, now, &mut community);

    // Everyone follows a few more spaces they can access.
    let hol = Holarchy::derive(&community);
    for u in 0..community.users.len() as u32 {
        let open: Vec<u32> = (1..community.spaces.len() as u32)
            .filter(|&s| hol.audience(s).is_none_or(|a| a.contains(&u)))
            .filter(|&s| community.spaces[s as usize].creator != Some(u))
            .collect();
        let k = rng.random_range(3..=7);
        for s in Pool::List(&open).pick_distinct(&mut rng, k, 1.0) {
            let at = ago(now, rng.random_range(60.0..250.0));
            community.followers.push(Role { space: s, user: u, at });
        }
    }

    let mut posts: Vec<Post> = POSTS
        .iter()
        .map(|(targets, author, days, title, text, url, _)| {
            let created = ago(now, *days);
            Post {
                id: uuid_v7(&mut rng, created),
                creator: user[author],
                title: title.map(Into::into),
                text: text.map(Into::into),
                url: url.map(Into::into),
                created,
                spaces: targets.iter().map(|t| space[t]).collect(),
                reposts: Vec::new(),
                likes: Vec::new(),
                ratings: Vec::new(),
                comments: Vec::new(),
                links: 0,
                poll: None,
                event: None,
            }
        })
        .collect();
    for &(post, target, days) in REPOSTS {
        let at = posts[post].created + (days * DAY as f64) as Secs;
        posts[post].reposts.push((space[target], at));
    }
    for &(post, parent, author, hours, text) in COMMENTS {
        let at = posts[post].created + (hours * 3600.0) as Secs;
        let id = uuid_v7(&mut rng, at);
        posts[post].comments.push(Comment { id, parent, creator: user[author], text: text.into(), at });
    }
    for (post, def) in posts.iter_mut().zip(POSTS) {
        let rows = appearances(&hol, &post.spaces, post.created, &post.reposts);
        let audience: Vec<u32> = match hol.audience(post.spaces[0]) {
            Some(a) => a.to_vec(),
            None => (0..community.users.len() as u32).collect(),
        };
        let others: Vec<u32> = audience.iter().copied().filter(|&u| u != post.creator).collect();
        let span = (now - post.created).max(2);
        for u in Pool::List(&others).pick_distinct(&mut rng, def.6, 1.0) {
            let at = post.created + rng.random_range(1..span);
            post.likes.push(Reaction { user: u, space: cast_space(&mut rng, &rows, at), at });
        }
        let raters = rng.random_range(0..=3);
        for u in Pool::List(&others).pick_distinct(&mut rng, raters, 1.0) {
            let at = post.created + rng.random_range(1..span);
            let value = *[60, 70, 80, 85, 90, 95, 100].choose(&mut rng).unwrap_or(&80);
            post.ratings.push(Rating { user: u, value, space: cast_space(&mut rng, &rows, at), at });
        }
    }
    posts.extend(polls(&mut rng, now, &community, &user, &space));
    posts.extend(events(&mut rng, now, &user, &space));
    let mut links = Vec::new();
    for &(a, b, description) in LINKS {
        let at = posts[a].created.max(posts[b].created) + 3600;
        posts[a].links += 1;
        posts[b].links += 1;
        links.push(Link {
            id: uuid_v7(&mut rng, at),
            source: posts[a].id,
            target: posts[b].id,
            creator: posts[a].creator,
            description,
            at,
        });
    }
    (community, posts, links)
}

/// Everyone follows a few other people, most of them in the last weeks, and each follow leaves the followed user
/// a `USER_FOLLOWED` notification, folded per day as the server folds them: the last three days' unseen.
fn follow_people(rng: &mut impl Rng, now: Secs, community: &mut Community) {
    let n = community.users.len() as u32;
    for follower in 0..n {
        let others: Vec<u32> = (0..n).filter(|&u| u != follower).collect();
        let k = rng.random_range(3..=6);
        for followed in Pool::List(&others).pick_distinct(rng, k, 1.0) {
            let at = ago(now, rng.random_range(0.05..40.0));
            community.user_follows.push((follower, followed, at));
        }
    }
    // One notification per followed user and day: the latest follower, and how many.
    let mut folded: HashMap<(u32, Secs), (u32, i64, Secs)> = HashMap::new();
    for &(follower, followed, at) in &community.user_follows {
        let entry = folded.entry((followed, at.div_euclid(DAY))).or_insert((follower, 0, at));
        entry.1 += 1;
        if at >= entry.2 {
            (entry.0, entry.2) = (follower, at);
        }
    }
    let mut folded: Vec<_> = folded.into_iter().collect();
    folded.sort_by_key(|&((recipient, day), (_, _, at))| (at, recipient, day));
    let kind = weco_domain::notifications::NotificationKind::UserFollowed.as_str();
    for ((recipient, day), (actor, count, at)) in folded {
        let date = chrono::DateTime::from_timestamp(day * DAY, 0).unwrap_or_default().format("%Y-%m-%d");
        community.notices.push(Notice {
            id: uuid_v7(rng, at),
            recipient,
            kind,
            fold_key: format!("{kind}:{}:{date}", community.users[recipient as usize].id),
            actor,
            count,
            seen: at < now - 3 * DAY,
            at,
        });
    }
}
