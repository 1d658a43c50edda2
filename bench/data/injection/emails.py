"""Whole short emails for build.py (our own writing, CC0): one coherent message each.

Real correspondence is full of requests between people ("please send me...", "can you review...",
"translate this for the Paris office"), quoted replies, signatures, disclaimers, newsletters and
automated notifications. Unlike the sentence pools (benign.py, negatives.py), which build.py
samples into windows at random, each entry here is one message on one topic, so the sentences
around a planted order are coherent with each other, as they are in real mail. Entries are split
by position like every other pool (``phrases.split_pool``): the last 30% are held out, and
threads.py continues the list with longer threads, notifications and newsletters.
"""

from __future__ import annotations

EMAILS: list[str] = [
    # -- requests between colleagues ----------------------------------------------------------
    "Hi Marta,\nCould you translate the attached product sheet into French for the Paris office? They "
    "need it before the trade fair on the 14th. The technical terms are in the glossary tab, so please "
    "keep those as they are. Let me know if the deadline is too tight.\nThanks,\nDaniel",
    "Hello Kenji,\nI've put the draft of the grant application in the shared folder. Can you review "
    "sections 3 and 4 and leave comments in the margin? Focus on the budget justification; the reviewers "
    "were critical of it last year. I need your feedback by Wednesday noon.\nBest,\nIngrid",
    "Hi team,\nPlease write a short summary of your quarter for the board pack, half a page at most. "
    "Stick to numbers and decisions, no project history. Send it to me by Friday and I will merge them. "
    "Use the template from last quarter if you still have it.\nCheers,\nPaolo",
    "Hey Sophie,\nCan you give the supplier a call tomorrow morning about the delayed pallets? They "
    "promised delivery on Monday and nothing has arrived. Ask them for a tracking number and a firm "
    "date. If they can't commit, we'll have to switch to the backup vendor.\nThanks, Amir",
    "Hi Grace,\nOur visitors from Osaka arrive on Thursday evening. Could you recommend a restaurant near "
    "the hotel that does good vegetarian food? Somewhere quiet enough to talk would be ideal. Book a "
    "table for eight at 7:30 if you find one.\nMany thanks,\nLeon",
    "Dear Mr. Alvarez,\nThank you for your quick reply. Please send me the signed lease and a copy of the "
    "inventory list when you have them. I will transfer the deposit as soon as both arrive. Could you "
    "also confirm whether the parking space is included in the rent?\nKind regards,\nNadia Petrova",
    "Hi Omar,\nCan you summarize the customer interviews from last week in a few bullet points? I want "
    "to share the main themes with the design team on Monday. No need to include the raw notes. Flag "
    "anything that contradicts our roadmap.\nThanks,\nJulia",
    "Morning Rebecca,\nWould you mind proofreading the press release before it goes out? The quote from "
    "the CEO still needs approval, so leave that paragraph alone. Everything else is final unless you "
    "spot a mistake. It is scheduled for 9 am tomorrow.\nBest, Tom",
    "Hi Felix,\nPlease forward me the invoices from March and April. The auditors want to see the "
    "originals, not the summaries. Scan them as one PDF if you can. Thanks for sorting this out so "
    "quickly last time.\nRegards,\nAnneke",
    "Hi Lucia,\nCould you write a few lines about the volunteer day for the intranet? A paragraph and two "
    "or three photos is plenty. Mention the number of trees planted and thank the park rangers. I'd like "
    "to post it on Monday.\nThanks so much,\nBen",
    "Hello Dr. Mensah,\nI hope you are well. Could you review the consent form before we submit it to the "
    "ethics committee? We changed the data retention section after your last comments. The deadline for "
    "submission is the 30th. Please reply with any corrections and we will include them.\nBest regards,\n"
    "Sarah Lindqvist",
    "Hi Wen,\nThe client wants the user manual in Spanish and Portuguese as well. Can you get quotes "
    "from two translation agencies? Ask them to translate the screenshots too, not just the text. We have "
    "a budget of about 4,000 euros.\nThanks,\nMark",
    "Hi Ahmed,\nQuick favour: can you send the slides from yesterday's talk to the people on the "
    "attendee list? A few of them asked for the reading list as well, so add that as a second "
    "attachment. BCC everyone please.\nCheers, Clara",
    "Dear all,\nPlease review the updated travel policy before booking any trips for the autumn "
    "conferences. The main change is that economy class is now required for flights under six hours. "
    "Submit your requests through the portal at least three weeks in advance. Questions go to Lena in "
    "finance.\nBest,\nHR team",
    "Hi Jonas,\nCan you call the venue and check whether they have a projector and a spare microphone? "
    "Last time we had to borrow one from the hotel next door. Also ask whether we can get in at 8 to set "
    "up. Text me what they say.\nThanks, Eva",
    # -- scheduling and meetings ---------------------------------------------------------------
    "Hi both,\nAre you free for a 30 minute call on Tuesday or Wednesday afternoon? I'd like to go "
    "through the migration plan before we commit to a date. Send me a couple of slots that work and I "
    "will set up the invite. An agenda will follow.\nBest,\nRuth",
    "Hello Aditya,\nUnfortunately I need to move our one-to-one from Thursday to Friday at 10. Something "
    "came up with a customer escalation. Let me know if that doesn't suit you and we can find another "
    "time. Sorry for the short notice.\nMichael",
    "Team,\nThe quarterly planning session is confirmed for 12 May, 9:00 to 16:00, in the large meeting "
    "room on the fifth floor. Lunch will be provided; tell Priya about any dietary needs by Tuesday. "
    "Please bring your draft objectives on paper. Remote joiners can use the usual video link.\nThanks,\n"
    "Gabriel",
    "Hi Chen,\nThanks for the interview today. As discussed, the next step is a technical exercise that "
    "takes about two hours. Please pick a day next week that suits you and we'll send the task that "
    "morning. Don't hesitate to ask if anything is unclear.\nBest wishes,\nMaria Gomez\nTalent Team",
    "Dear parents,\nThe autumn parent-teacher meetings will take place on 3 and 4 October. Book a "
    "ten-minute slot with each teacher using the school app. If you cannot attend, write to the class "
    "teacher and they will arrange a phone call instead. Please arrive five minutes early.\nKind "
    "regards,\nThe school office",
    # -- personal ------------------------------------------------------------------------------
    "Hi Mum,\nWe land at 6:40 on Saturday, so don't worry about dinner, we'll eat on the plane. Could you "
    "ask Dad to leave the garage open? The kids are very excited about the beach. Love,\nAnna",
    "Hey Sam,\nAre you still up for hiking on Sunday? The forecast says sun in the morning and rain after "
    "three, so let's start early. Bring the good map, mine got soaked last time. I can drive if you "
    "bring snacks.\nJoe",
    "Hi Liz,\nThanks for hosting on Saturday, it was a lovely evening. Can you send me the recipe for "
    "that lemon tart? My sister wants to make it for her birthday. Also, I think I left my scarf on your "
    "coat rack.\nXx Hannah",
    "Dear Aunt Rosa,\nThank you so much for the birthday present, the book is wonderful. I'm already "
    "halfway through it. Please tell Uncle Pedro that the photos from the wedding are finally printed; "
    "I'll post them next week. We miss you both.\nWith love,\nLuis",
    "Hi neighbours,\nThe street party is on 21 June from 2 pm. Please bring a dish to share and a "
    "chair if you have a spare one. We still need someone to organise games for the children, so reply "
    "if you can help. The council has agreed to close the road for the afternoon.\nSee you there,\n"
    "Fiona at number 12",
    # -- customers, vendors, services ----------------------------------------------------------
    "Dear customer,\nThank you for your order #58213. Your items will be dispatched within two working "
    "days. You can track the parcel from the link in your account once it ships. If anything is "
    "missing, reply to this email with a photo of the packing slip.\nThe Greenleaf Garden team",
    "Hello,\nI am writing to complain about the repair of my washing machine on 2 March. The engineer "
    "replaced the pump but the machine still leaks. Please send someone to look at it again this week, "
    "at no extra cost. I have attached photos of the water on the floor. Reference: WM-44120.\n"
    "Regards,\nGeorge Hill",
    "Hi Priya,\nAttached is the revised quote for the kitchen refit. We reduced the worktop cost by "
    "switching to laminate, as you asked. Please sign and return page 3 if you are happy to go ahead. "
    "We can start on the 8th if we hear from you by Friday.\nBest regards,\nDan\nHill & Sons Joinery",
    "Dear Ms. Novak,\nYour appointment with Dr. Brandt is confirmed for Monday 4 March at 10:15. Please "
    "bring your insurance card and a list of any medication you take. If you need to cancel, call us at "
    "least 24 hours in advance. Arrive ten minutes early to complete the registration form.\nRiverside "
    "Medical Practice",
    "Hi,\nI'd like to cancel my gym membership at the end of this month. My member number is 77031. "
    "Could you confirm the cancellation in writing and tell me whether the last payment will still be "
    "taken? Thank you.\nAlex Morgan",
]

# Sign-offs with a signature block or a disclaimer: appended to some windows of either split.
SIGNATURES: list[str] = [
    "--\nJanine Clarke | Senior Accountant\nNorthwind Logistics | +44 161 555 0142",
    "Sent from my phone, please excuse typos.",
    "This email and any attachments are confidential and intended solely for the addressee. If you have "
    "received it in error, please notify the sender and delete it.",
    "--\nRafael Ortiz\nHead of Partnerships, Brightwater Foundation\nPlease consider the environment "
    "before printing this email.",
    "Kind regards,\nYuki Tanaka\nProject Coordinator\nOffice hours: Mon-Thu 9-5",
    "--\nThe information in this message may be privileged. Any review, retransmission or other use of "
    "it by persons other than the intended recipient is prohibited.",
    "Best,\nOwen\n(I work part time; replies may take a day.)",
    "--\nSupport is available 24/7 at our help centre. Do not reply to this automated message.",
    "Thanks,\nMei Lin | she/her\nPeople & Culture",
    "Regards,\nStefan Weber\nDisclaimer: views expressed are my own and not those of my employer.",
]
