"""Domain errors of the reviews app, each with a stable code and HTTP status."""

from rest_framework import status

from nexus.exceptions import DomainError


class AlreadyReviewed(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "already_reviewed"
    title = "Already reviewed"
    default_detail = "You have already reviewed this product; edit your review instead."


class PurchaseRequired(DomainError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "purchase_required"
    title = "Purchase required"
    default_detail = "Only customers who received this product may review it."


class OwnReview(DomainError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "own_review"
    title = "Own review"
    default_detail = "You cannot vote for or report your own review."


class ReviewNotPublished(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "review_not_published"
    title = "Review not published"
    default_detail = "Only published (approved) reviews can be voted for or reported."


class AlreadyVoted(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "already_voted"
    title = "Already voted"
    default_detail = "You have already marked this review as helpful."


class VoteNotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "vote_not_found"
    title = "No vote"
    default_detail = "You have not marked this review as helpful."


class AlreadyReported(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "already_reported"
    title = "Already reported"
    default_detail = "You have already reported this review."


class ReviewNotFound(DomainError):
    """The review disappeared (deleted by a concurrent request) while this one ran."""

    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"
    title = "Not Found"
    default_detail = "No such review."
