"""Werkzeug's names and descriptions of the HTTP errors, marked for the catalogue: the error
page (templates/error.html) shows them with `_(error.name)` and `_(error.description)`.
tests/test_i18n.py fails when Werkzeug's texts change and this list does not."""

from __future__ import annotations

from server.i18n import N_

WORDS = (
    N_('Bad Request'),
    N_('The browser (or proxy) sent a request that this server could not understand.'),
    N_('Unauthorized'),
    N_('The server could not verify that you are authorized to access the URL requested. You '
       "either supplied the wrong credentials (e.g. a bad password), or your browser doesn't "
       'understand how to supply the credentials required.'),
    N_('Forbidden'),
    N_("You don't have the permission to access the requested resource. It is either "
       'read-protected or not readable by the server.'),
    N_('Not Found'),
    N_('The requested URL was not found on the server. If you entered the URL manually please '
       'check your spelling and try again.'),
    N_('Method Not Allowed'),
    N_('The method is not allowed for the requested URL.'),
    N_('Not Acceptable'),
    N_('The resource identified by the request is only capable of generating response entities '
       'which have content characteristics not acceptable according to the accept headers sent '
       'in the request.'),
    N_('Request Timeout'),
    N_("The server closed the network connection because the browser didn't finish the request "
       'within the specified time.'),
    N_('Conflict'),
    N_('A conflict happened while processing the request. The resource might have been modified '
       'while the request was being processed.'),
    N_('Gone'),
    N_('The requested URL is no longer available on this server and there is no forwarding '
       'address. If you followed a link from a foreign page, please contact the author of this '
       'page.'),
    N_('Length Required'),
    N_('A request with this method requires a valid <code>Content-Length</code> header.'),
    N_('Precondition Failed'),
    N_('The precondition on the request for the URL failed positive evaluation.'),
    N_('Request Entity Too Large'),
    N_('The data value transmitted exceeds the capacity limit.'),
    N_('Request URI Too Long'),
    N_('The length of the requested URL exceeds the capacity limit for this server. The request '
       'cannot be processed.'),
    N_('Unsupported Media Type'),
    N_('The server does not support the media type transmitted in the request.'),
    N_('Requested Range Not Satisfiable'),
    N_('The server cannot provide the requested range.'),
    N_('Expectation Failed'),
    N_('The server could not meet the requirements of the Expect header'),
    N_("I'm a teapot"),
    N_('This server is a teapot, not a coffee machine'),
    N_('Misdirected Request'),
    N_('The server is not able to produce a response.'),
    N_('Unprocessable Entity'),
    N_('The request was well-formed but was unable to be followed due to semantic errors.'),
    N_('Locked'),
    N_('The resource that is being accessed is locked.'),
    N_('Failed Dependency'),
    N_('The method could not be performed on the resource because the requested action depended '
       'on another action and that action failed.'),
    N_('Precondition Required'),
    N_('This request is required to be conditional; try using "If-Match" or '
       '"If-Unmodified-Since".'),
    N_('Too Many Requests'),
    N_('This user has exceeded an allotted request count. Try again later.'),
    N_('Request Header Fields Too Large'),
    N_('One or more header fields exceeds the maximum size.'),
    N_('Unavailable For Legal Reasons'),
    N_('Unavailable for legal reasons.'),
    N_('Internal Server Error'),
    N_('The server encountered an internal error and was unable to complete your request. Either'
       ' the server is overloaded or there is an error in the application.'),
    N_('Not Implemented'),
    N_('The server does not support the action requested by the browser.'),
    N_('Bad Gateway'),
    N_('The proxy server received an invalid response from an upstream server.'),
    N_('Service Unavailable'),
    N_('The server is temporarily unable to service your request due to maintenance downtime or '
       'capacity problems. Please try again later.'),
    N_('Gateway Timeout'),
    N_('The connection to an upstream server timed out.'),
    N_('HTTP Version Not Supported'),
    N_('The server does not support the HTTP protocol version used in the request.'),
    N_("Insufficient Storage"),  # 507: server.web InsufficientStorage
)
