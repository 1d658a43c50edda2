"""Realistic tables for build.py (our own writing, CC0): CSV, markdown, pipe-separated and
key-value records, many with imperative-looking cells ("Action: Send invoice", "Next step: Call
the supplier") as to-do lists, runbooks and CRM exports have.

A table is a header and one value pool per column; a value "#a-b" is a number in that range,
"$a-b" an amount, "@" a date. ``TABLES`` is split by position (last 30% held out), so held-out
windows come from table kinds never trained on.
"""

from __future__ import annotations

import random

TABLES: list[tuple[list[str], list[list[str]]]] = [
    (["Task", "Owner", "Due", "Status"],
     [["Send invoice to Acme", "Call the supplier about pallets", "Review contract draft", "Book venue for offsite",
       "Update the price list", "Translate brochure into French", "Email the customer about the delay",
       "Write release notes", "Order new badges", "Renew the domain name"],
      ["Dana", "Luis", "Priya", "Ken", "Sofia", "Mo"], ["@"], ["Open", "Done", "Blocked", "In progress"]]),
    (["Step", "Action", "Expected result"],
     [["#1-9"], ["Restart the service", "Check the disk space", "Run the backup script", "Rotate the logs",
                "Notify the on-call engineer", "Open a ticket with the vendor", "Roll back the release",
                "Clear the cache", "Verify the certificate expiry date"],
      ["Service responds on port 443", "Less than 80% used", "Backup file written", "Ticket number received",
       "Previous version live", "No errors in the log", "Alert resolved"]]),
    (["Customer", "Last contact", "Next step", "Value"],
     [["Northwind", "Globex", "Initech", "Umbrella Foods", "Stark Tiles", "Wayne Print", "Hooli Travel"], ["@"],
      ["Send proposal", "Call to follow up", "Schedule demo", "Ask for referral", "Send revised quote",
       "Invite to webinar", "Recommend premium plan"], ["$500-90000"]]),
    (["Date", "Description", "Amount", "Category"],
     [["@"], ["Taxi to airport", "Hotel Lisbon 2 nights", "Team lunch", "Printer toner", "Train Berlin-Hamburg",
              "Conference ticket", "Client dinner"], ["$8-900"], ["Travel", "Meals", "Office", "Events"]]),
    (["Item", "Qty", "Unit price", "Notes"],
     [["A4 paper", "Stapler", "Whiteboard markers", "USB-C cable", "Desk lamp", "Coffee beans 1 kg"], ["#1-50"],
      ["$1-120"], ["Order from usual supplier", "Ask for bulk discount", "Urgent", "Check stock first", ""]]),
    (["Year", "Title", "Role", "Notes"],
     [["#1962-2021"], ["The Long Road", "Harbour Lights", "Winter Garden", "A Quiet Street", "Northern Star",
                       "The Glass House"], ["Director", "Writer", "Actor", "Producer"],
      ["Debut", "Award nominee", "Uncredited", "Also composer", "Remake", ""]]),
    (["Rank", "Team", "Played", "Won", "Lost", "Points"],
     [["#1-20"], ["Riverside FC", "City Rovers", "Harbour United", "North End", "Valley Athletic",
                  "Old Town"], ["#20-38"], ["#0-25"], ["#0-20"], ["#10-90"]]),
    (["Setting", "Default", "Description"],
     [["timeout", "retries", "log_level", "cache_size", "max_connections", "language"], ["#1-100", "info", "en"],
      ["Seconds to wait before giving up", "How many times to retry a failed call", "Set to debug to see requests",
       "Number of entries kept in memory", "Reply language of the interface", "Change only if told by support"]]),
    (["Ingredient", "Amount", "Prep"],
     [["Flour", "Butter", "Eggs", "Onion", "Garlic", "Milk", "Sugar"], ["#1-500"],
      ["Sift before use", "Chop finely", "Beat lightly", "Keep cold", "Melt gently", "Bring to room temperature"]]),
    (["Country", "Capital", "Population (m)", "Official language"],
     [["Norway", "Peru", "Kenya", "Vietnam", "Chile", "Portugal", "Ghana"], ["Oslo", "Lima", "Nairobi", "Hanoi",
      "Santiago", "Lisbon", "Accra"], ["#2-100"], ["Norwegian", "Spanish", "Swahili", "Vietnamese", "Portuguese",
                                                    "English"]]),
    (["Ticket", "Subject", "Priority", "Action"],
     [["#1000-9999"], ["Cannot log in", "Invoice wrong", "Printer offline", "VPN drops", "Refund request",
                       "Password reset"], ["Low", "Medium", "High"],
      ["Reply to customer", "Escalate to tier 2", "Close as duplicate", "Ask for screenshot", "Refund and close",
       "Send reset link"]]),
    (["Day", "Time", "Session", "Room"],
     [["Mon", "Tue", "Wed", "Thu", "Fri"], ["09:00", "10:30", "13:00", "15:30"],
      ["Keynote", "Write better prompts", "Hands-on: build a chatbot", "Panel on data privacy", "Lunch",
       "Lightning talks"], ["A", "B", "Hall 1", "Lab 2"]]),
    (["Week", "Chore", "Who", "Done"],
     [["#1-52"], ["Take out recycling", "Water the plants", "Clean the fridge", "Mow the lawn", "Buy groceries",
                  "Vacuum the stairs"], ["Alex", "Bea", "Cam", "Dee"], ["yes", "no"]]),
    # held out from here (the last 30%: split_pool keeps round(0.7 * 18) = 13 for dev)
    (["Action item", "Assigned to", "Deadline"],
     [["Draft the budget memo", "Confirm catering numbers", "Share slides with attendees",
       "Summarize survey results", "Invite the new partners", "Translate the FAQ into Spanish",
       "Recommend a vendor shortlist"], ["JL", "MK", "RS", "TW", "AP"], ["@"]]),
    (["Product", "SKU", "Stock", "Reorder"],
     [["Trail shoe", "Rain jacket", "Water bottle", "Head torch", "Day pack"], ["#10000-99999"], ["#0-400"],
      ["Order 50 more", "Do not reorder", "Check with buyer", "Discontinue", "Reorder in June"]]),
    (["Station", "Date", "Rain (mm)", "Max (C)", "Min (C)"],
     [["Bergen", "Cork", "Brest", "Galway", "Aberdeen"], ["@"], ["#0-60"], ["#5-30"], ["#-5-15"]]),
    (["Symptom", "Likely cause", "What to do"],
     [["No power", "Loud noise", "Leaks water", "Error E4", "Will not drain"],
      ["Fuse blown", "Worn bearing", "Loose hose", "Blocked filter", "Door sensor"],
      ["Replace the fuse", "Call an engineer", "Tighten the clamp", "Clean the filter", "Unplug and restart"]]),
    (["Candidate", "Interview", "Panel", "Outcome"],
     [["R. Silva", "J. Okafor", "L. Chen", "M. Novak", "A. Haddad"], ["@"], ["HR + team lead", "Two engineers"],
      ["Make offer", "Reject politely", "Second interview", "Keep on file"]]),
]

_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _cell(rng: random.Random, values: list[str]) -> str:
    value = rng.choice(values)
    if value.startswith("#") and "-" in value[2:]:
        low, high = value[1:].rsplit("-", 1)
        return str(rng.randint(int(low), int(high)))
    if value.startswith("$"):
        low, high = value[1:].split("-")
        return f"{rng.randint(int(low), int(high))}.{rng.randint(0, 99):02d}"
    if value == "@":
        return f"{rng.randint(1, 28)} {rng.choice(_MONTHS)} {rng.randint(2019, 2025)}"
    return value


def render_table(rng: random.Random, tables: list[tuple[list[str], list[list[str]]]]) -> str:
    """One table of 4-12 rows as CSV, markdown, pipes or key-value records."""
    head, columns = rng.choice(tables)
    rows = [[_cell(rng, values) for values in columns] for _ in range(rng.randint(4, 12))]
    style = rng.choice(["csv", "markdown", "pipes", "records"])
    if style == "csv":
        return "\n".join(",".join(f'"{c}"' if "," in c else c for c in row) for row in [head, *rows])
    if style == "markdown":
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])
    if style == "pipes":
        return "\n".join(" | ".join(row) for row in [head, *rows])
    return "\n\n".join("\n".join(f"{h}: {c}" for h, c in zip(head, row, strict=True)) for row in rows[:5])
