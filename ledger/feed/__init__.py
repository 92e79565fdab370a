"""The downstream event feed (CloudEvents 1.0) and the JSON Schemas of its events."""

from ledger.feed.cloudevents import (
    BATCH_CONTENT_TYPE,
    FEED_CONTENT_TYPE,
    BadFeedRequest,
    FeedError,
    FeedIntegrityError,
    FeedPage,
    event_type,
    feed_instance,
    read_feed,
    read_feed_page,
)

__all__ = [
    "BATCH_CONTENT_TYPE",
    "FEED_CONTENT_TYPE",
    "BadFeedRequest",
    "FeedError",
    "FeedIntegrityError",
    "FeedPage",
    "event_type",
    "feed_instance",
    "read_feed",
    "read_feed_page",
]
