//! Announcing what a committed mutation changed. Called after `commit`, never before: subscribers must not
//! hear of something that then rolls back. A failing bus is the bus's to log; the mutation has succeeded.

use super::App;
use crate::events::{Envelope, Event, Topic};
use crate::ids::{PostId, SpaceId};
use crate::model::{Comment, Post, User};

impl App {
    /// The post now appears in `spaces` (`true`: placed there directly).
    pub(crate) async fn announce_added(&self, post: &Post, creator: Option<User>, spaces: &[(SpaceId, bool)]) {
        let Some(mut creator) = creator else { return };
        creator.email.clear();
        let events = spaces
            .iter()
            .map(|(space, direct)| {
                Envelope::new(
                    Topic::Space(*space),
                    Event::PostAdded {
                        space_id: *space,
                        direct: *direct,
                        post: Box::new(post.clone()),
                        creator: Box::new(creator.clone()),
                    },
                )
            })
            .collect();
        self.bus.publish(events).await;
    }

    /// The post's counters changed: its own topic and every feed it appears in hear the new totals.
    pub(crate) async fn announce_stats(&self, post: &Post, spaces: &[SpaceId]) {
        let event = Event::PostStatsChanged { post_id: post.id, stats: post.stats() };
        let mut events = vec![Envelope::new(Topic::Post(post.id), event.clone())];
        events.extend(spaces.iter().map(|s| Envelope::new(Topic::Space(*s), event.clone())));
        self.bus.publish(events).await;
    }

    /// The post left `spaces` (`everywhere`: it was deleted).
    pub(crate) async fn announce_removed(&self, post: PostId, spaces: &[SpaceId], everywhere: bool) {
        let mut events: Vec<Envelope> = spaces
            .iter()
            .map(|s| Envelope::new(Topic::Space(*s), Event::PostRemoved { space_id: Some(*s), post_id: post }))
            .collect();
        if everywhere {
            events.push(Envelope::new(Topic::Post(post), Event::PostRemoved { space_id: None, post_id: post }));
        }
        self.bus.publish(events).await;
    }

    pub(crate) async fn announce_comment(&self, comment: &Comment) {
        let event = Event::CommentAdded { post_id: comment.post_id, comment: Box::new(comment.clone()) };
        self.bus.publish(vec![Envelope::new(Topic::Post(comment.post_id), event)]).await;
    }
}
