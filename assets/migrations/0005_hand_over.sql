-- ConsentDesk schema, version 5: the tablet in the customer's hands.

-- While the customer holds the tablet, the staff session is locked to the
-- customer's screens: "consent:<draft>" on the consent screen, "done:<order>"
-- after it, "back:<draft>" when the customer asked to correct something.
-- Only the staff member's PIN unlocks it (GDPR Art. 32: no other customer's
-- data on the customer's screen).
ALTER TABLE sessions ADD COLUMN hand_over TEXT NOT NULL DEFAULT '';
