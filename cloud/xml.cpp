#include "cloud/xml.hpp"

#include <boost/property_tree/xml_parser.hpp>

#include <sstream>

namespace mirrortap::cloud {

mirrortap::Result<XmlTree> parse_xml(std::string_view text, size_t max_bytes) {
    if (text.size() > max_bytes)
        return fail("XML answer of " + std::to_string(text.size()) + " bytes is larger than " +
                    std::to_string(max_bytes));
    std::istringstream in{std::string(text)};
    XmlTree tree;
    try {
        // No trim_whitespace: element text (keys, tokens) must come back byte for byte.
        boost::property_tree::read_xml(in, tree, 0);
    } catch (const boost::property_tree::xml_parser_error& e) {
        return fail("malformed XML: " + e.message() + " (line " + std::to_string(e.line()) + ")");
    }
    return tree;
}

const XmlTree* xml_child(const XmlTree& node, std::string_view name) {
    const auto it = node.find(std::string(name));
    return it == node.not_found() ? nullptr : &it->second;
}

std::string xml_text(const XmlTree& node, std::string_view name) {
    const XmlTree* child = xml_child(node, name);
    return child ? child->data() : std::string();
}

std::string xml_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            default: out += c;
        }
    }
    return out;
}

}  // namespace mirrortap::cloud
