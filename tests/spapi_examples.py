"""Answers copied from Amazon's own model: amzn/selling-partner-api-models
`models/product-pricing-api-model/productPricingV0.json`, the `x-amzn-api-sandbox` examples of
each operation's 200 answer, trimmed of fields nothing here reads where noted. Test data only.
"""

from __future__ import annotations

from typing import Any

USD = "USD"


def money(amount: float) -> dict[str, Any]:
    return {"CurrencyCode": USD, "Amount": amount}


# getItemOffersBatch 200 example (GetItemOffersBatchResponse > ItemOffersResponse): the
# responses for B001Q3KU9Q (a Buy Box) and B00KFRNZY6 (NoBuyableOffers), SalesRankings and
# BuyBoxEligibleOffers left out.
OFFERS_B001Q3KU9Q: dict[str, Any] = {
    "status": {"statusCode": 200, "reasonPhrase": "OK"},
    "body": {
        "payload": {
            "ASIN": "B001Q3KU9Q",
            "status": "Success",
            "ItemCondition": "New",
            "Identifier": {
                "MarketplaceId": "ATVPDKIKX0DER",
                "ItemCondition": "New",
                "ASIN": "B001Q3KU9Q",
            },
            "Summary": {
                "LowestPrices": [
                    {
                        "condition": "new",
                        "fulfillmentChannel": "Amazon",
                        "LandedPrice": money(24.99),
                        "ListingPrice": money(24.99),
                        "Shipping": money(0),
                    },
                    {
                        "condition": "collectible",
                        "fulfillmentChannel": "Merchant",
                        "LandedPrice": money(20.49),
                        "ListingPrice": money(10),
                        "Shipping": money(10.49),
                    },
                ],
                "BuyBoxPrices": [
                    {
                        "condition": "new",
                        "LandedPrice": money(24.99),
                        "ListingPrice": money(24.99),
                        "Shipping": money(0),
                    }
                ],
                "NumberOfOffers": [
                    {"condition": "new", "fulfillmentChannel": "Amazon", "OfferCount": 1},
                    {"condition": "collectible", "fulfillmentChannel": "Merchant", "OfferCount": 1},
                ],
                "ListPrice": money(27.99),
                "TotalOfferCount": 2,
            },
            "Offers": [
                {
                    "Shipping": money(0),
                    "ListingPrice": money(24.99),
                    "ShippingTime": {
                        "maximumHours": 0,
                        "minimumHours": 0,
                        "availabilityType": "NOW",
                    },
                    "ShipsFrom": {"Country": "US"},
                    "PrimeInformation": {"IsPrime": True, "IsNationalPrime": True},
                    "SubCondition": "new",
                    "SellerId": "A1OHOT6VONX3KA",
                    "IsFeaturedMerchant": True,
                    "IsBuyBoxWinner": True,
                    "IsFulfilledByAmazon": True,
                }
            ],
            "marketplaceId": "ATVPDKIKX0DER",
        }
    },
    "headers": {"x-amzn-RequestId": "5ff728ac-8f9c-4caa-99a7-704f898eec9c"},
    "request": {
        "MarketplaceId": "ATVPDKIKX0DER",
        "Asin": "B001Q3KU9Q",
        "CustomerType": "Consumer",
        "ItemCondition": "New",
    },
}
OFFERS_B00KFRNZY6: dict[str, Any] = {
    "status": {"statusCode": 200, "reasonPhrase": "OK"},
    "body": {
        "payload": {
            "ASIN": "B00KFRNZY6",
            "status": "NoBuyableOffers",
            "ItemCondition": "New",
            "Identifier": {
                "MarketplaceId": "ATVPDKIKX0DER",
                "ItemCondition": "New",
                "ASIN": "B00KFRNZY6",
            },
            "Summary": {"TotalOfferCount": 0},
            "Offers": [],
            "marketplaceId": "ATVPDKIKX0DER",
        }
    },
    "request": {
        "MarketplaceId": "ATVPDKIKX0DER",
        "Asin": "B00KFRNZY6",
        "CustomerType": "Consumer",
        "ItemCondition": "New",
    },
}

# getCompetitivePricing 200 example, the CustomerType=Business request (GetPricingResponse >
# Price > CompetitivePricingType): a B2C New Buy Box ("1") and two B2B quantity tiers.
COMPETITIVE_B00V5DG6IQ: dict[str, Any] = {
    "status": "Success",
    "ASIN": "B00V5DG6IQ",
    "Product": {
        "Identifiers": {
            "MarketplaceASIN": {"MarketplaceId": "ATVPDKIKX0DER", "ASIN": "B00V5DG6IQ"}
        },
        "CompetitivePricing": {
            "CompetitivePrices": [
                {
                    "CompetitivePriceId": "1",
                    "Price": {
                        "LandedPrice": money(120),
                        "ListingPrice": money(130),
                        "Shipping": money(10),
                    },
                    "condition": "new",
                    "offerType": "B2C",
                    "sellerId": "AXXXXXXXXXXXXX",
                    "belongsToRequester": True,
                },
                {
                    "CompetitivePriceId": "1",
                    "Price": {"ListingPrice": money(115)},
                    "condition": "new",
                    "offerType": "B2B",
                    "quantityTier": 3,
                    "quantityDiscountType": "QUANTITY_DISCOUNT",
                },
                {
                    "CompetitivePriceId": "1",
                    "Price": {"ListingPrice": money(110)},
                    "condition": "new",
                    "offerType": "B2B",
                    "quantityTier": 5,
                    "quantityDiscountType": "QUANTITY_DISCOUNT",
                },
            ],
            "NumberOfOfferListings": [{"Count": 3, "condition": "new"}],
            "TradeInValue": money(10),
        },
    },
}
# The plain (Consumer) example's second item: its CompetitivePriceId is not "1" (no New Buy Box
# price named as such), with one New offer listing.
COMPETITIVE_B00551Q3CS: dict[str, Any] = {
    "status": "Success",
    "ASIN": "B00551Q3CS",
    "Product": {
        "Identifiers": {
            "MarketplaceASIN": {"MarketplaceId": "ATVPDKIKX0DER", "ASIN": "B00551Q3CS"}
        },
        "CompetitivePricing": {
            "CompetitivePrices": [
                {
                    "CompetitivePriceId": "45456452646",
                    "Price": {"LandedPrice": money(10), "ListingPrice": money(130)},
                    "condition": "new",
                    "belongsToRequester": True,
                }
            ],
            "NumberOfOfferListings": [{"Count": 1, "condition": "new"}],
        },
    },
}

# getPricing 200 example (GetPricingResponse > Price > OfferType, SellerSKU required).
PRICING_B00V5DG6IQ: dict[str, Any] = {
    "status": "Success",
    "ASIN": "B00V5DG6IQ",
    "Product": {
        "Identifiers": {
            "MarketplaceASIN": {"MarketplaceId": "ATVPDKIKX0DER", "ASIN": "B00V5DG6IQ"}
        },
        "Offers": [
            {
                "BuyingPrice": {
                    "ListingPrice": money(10.0),
                    "LandedPrice": money(10.0),
                    "Shipping": money(0.0),
                },
                "RegularPrice": money(10.0),
                "FulfillmentChannel": "MERCHANT",
                "ItemCondition": "New",
                "ItemSubCondition": "New",
                "SellerSKU": "NABetaASINB00V5DG6IQ",
            }
        ],
    },
}
