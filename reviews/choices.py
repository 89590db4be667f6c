"""Choices of the reviews app: a review's moderation state, why it is held, report reasons."""

from django.db import models


class ReviewStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class HoldReason(models.TextChoices):
    """Why a review is pending (empty once staff decided or when it was published)."""

    NONE = "", "None"
    MODERATION = "moderation", "Every new review is moderated"
    LINKS = "links", "Too many links"
    DUPLICATE = "duplicate", "Same text as another review by this author"
    BLOCKED_WORD = "blocked_word", "Contains a blocked word"
    REPORTED = "reported", "Reported by several users"
    EDITED = "edited", "Edited while held or rejected, or under moderation"


class ReportReason(models.TextChoices):
    SPAM = "spam", "Spam or advertising"
    ABUSIVE = "abusive", "Abusive or offensive"
    OFF_TOPIC = "off_topic", "Not about the product"
    FAKE = "fake", "Fake or misleading"
    PERSONAL_DATA = "personal_data", "Contains personal data"
    OTHER = "other", "Other"
