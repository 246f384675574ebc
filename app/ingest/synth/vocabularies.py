"""The small coded lists the HL7 v2 centres send besides their local codes (referral
source, MDT outcome, aetiology, approach, device), as ``docs/centres.md`` lists them."""

RF1_STATUS = {
    "pending": "P^Pending^HL70283",
    "accepted": "A^Accepted^HL70283",
    "referred-on": "A^Accepted^HL70283",
    "closed": "E^Expired^HL70283",
    "rejected": "R^Rejected^HL70283",
}
SOURCE_TEXT = {
    "GP": "General practice",
    "DGH": "District general hospital cardiology",
    "TERT": "Tertiary cardiology",
    "SURG": "Cardiac surgery",
    "NET": "Network centre transfer",
    "INPT": "Inpatient",
    "SURV": "Surveillance",
    "OTH": "Other",
}
KINGS_OUTCOME = {
    "conventional-surgery": "SURG^Conventional mitral surgery",
    "minimal-access-surgery": "MIS^Minimal access surgery",
    "transcatheter-repair": "TEER^Transcatheter edge-to-edge repair",
    "transcatheter-replacement": "TMVR^Transcatheter valve replacement",
    "medical-therapy": "MED^Optimal medical therapy",
    "further-investigation": "INV^Further investigation",
    "deferred": "DEFER^Deferred",
    "declined-by-patient": "DECL^Declined by patient",
    "not-suitable": "UNSUIT^Not suitable for intervention",
}
BARTS_OUTCOME = {
    "conventional-surgery": "MDT_SURG^CONVENTIONAL SURGERY",
    "minimal-access-surgery": "MDT_MIAS^MINIMAL ACCESS SURGERY",
    "transcatheter-repair": "MDT_TEER^TRANSCATHETER REPAIR",
    "transcatheter-replacement": "MDT_TMVR^TRANSCATHETER REPLACEMENT",
    "medical-therapy": "MDT_MED^MEDICAL THERAPY",
    "further-investigation": "MDT_INVEST^FURTHER INVESTIGATION",
    "deferred": "MDT_DEFER^DEFERRED",
    "declined-by-patient": "MDT_DECLINED^DECLINED BY PATIENT",
    "not-suitable": "MDT_NOT_SUITABLE^NOT SUITABLE",
}
KINGS_AETIOLOGY = {
    "primary": "P",
    "secondary": "S",
    "secondary-ventricular": "SV",
    "secondary-atrial": "SA",
    "mixed": "M",
}
BARTS_AETIOLOGY = {
    "primary": "PRIMARY",
    "secondary": "SECONDARY",
    "secondary-ventricular": "SECONDARY_V",
    "secondary-atrial": "SECONDARY_A",
    "mixed": "MIXED",
}
APPROACH_TEXT = {
    "STERN": "Sternotomy",
    "MINI": "Right mini-thoracotomy",
    "THOR": "Thoracoscopic",
    "TF": "Transfemoral",
    "TS": "Transseptal",
    "TA": "Transapical",
}
DEVICE_TEXT = {
    "CLIP": "MITRAL VALVE CLIP",
    "PROS": "MITRAL VALVE PROSTHESIS",
    "RING": "ANNULOPLASTY RING",
    "TTVP": "TRICUSPID VALVE PROSTHESIS",
}
APPOINTMENT_REASON = {
    "valve": "Valve clinic",
    "mdt": "Heart team discussion",
    "procedure": "Procedure",
}
